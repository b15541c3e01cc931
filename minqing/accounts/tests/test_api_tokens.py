"""API bearer tokens and the /api/v1/ framework: auth, CSRF, error answers, OpenAPI."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client, RequestFactory
from django.urls import reverse

from minqing.accounts.models import ApiToken
from minqing.accounts.services import api_token_issue, api_token_revoke
from minqing.api import api
from minqing.audit.models import AuditEvent
from minqing.lib.errors import StaleEdit
from minqing.tests import dbstate
from minqing.tests.dbstate import nothing_written

UNAUTHENTICATED = {"detail": "Authentication required.", "code": "unauthenticated"}
#: What a refused bearer token writes: its ``login`` failure row (the first per address and
#: minute; the counters live in the cache).
BEARER_FAILURE = {"audit.auditevent": 1}


def _issue_with_command(username: str, *args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("api_token", username, *args, stdout=out, stderr=err)
    key = out.getvalue().strip()
    assert key not in err.getvalue()
    return key


def _bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def _node_url(county) -> str:
    return reverse("api:node", kwargs={"pk": county.village_a.pk})


def _reveal_url(county) -> str:
    return reverse("api:reveal", kwargs={"kind": "residents", "pk": county.resident_a1.pk})


def _reveals() -> int:
    return AuditEvent.objects.filter(action="personal_data.reveal").count()


def test_token_from_the_command_reads_the_api_and_only_its_hash_is_stored(county, owner):
    key = _issue_with_command("owner", "--name", "ledger sync", "--expires-days", "30")
    response = Client().get(_node_url(county), headers=_bearer(key))
    assert response.status_code == 200
    assert response.json()["id"] == county.village_a.pk
    assert response.json()["name"] == "王庄村"
    token = ApiToken.objects.get()
    assert (token.user, token.name) == (owner, "ledger sync")
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key.startswith(token.prefix) and len(token.prefix) == 11 and len(key) > 40
    assert key not in json.dumps(list(ApiToken.objects.values()), default=str)
    assert dt.timedelta(days=29, hours=23) < token.expires_at - token.created_at
    event = AuditEvent.objects.get(action="api_token.issue")
    assert event.object_id == str(token.pk)
    assert event.detail["user"] == "owner"
    assert event.detail["prefix"] == token.prefix
    assert key not in json.dumps(event.detail)


def test_command_refuses_unknown_disabled_users_and_bad_expiry(county, owner):
    with nothing_written(), pytest.raises(CommandError):
        _issue_with_command("nobody-here")
    with nothing_written(), pytest.raises(CommandError):
        _issue_with_command("owner", "--expires-days", "0")
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    with nothing_written(), pytest.raises(CommandError):
        _issue_with_command("owner")
    with nothing_written(), pytest.raises(ValidationError):
        api_token_issue(user=owner)
    assert ApiToken.objects.count() == 0
    assert not AuditEvent.objects.filter(action="api_token.issue").exists()


def test_no_token_gets_401_json(county):
    with nothing_written():
        response = Client().get(_node_url(county))
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer mq_not-a-real-token-at-all-0000000000000000000",
        "Bearer not-even-our-format",
        "Bearer ",
        "bearer mq_x",
    ],
)
def test_wrong_token_gets_401(county, owner, header):
    api_token_issue(user=owner)
    with nothing_written(allow=BEARER_FAILURE):
        response = Client().get(_node_url(county), headers={"authorization": header})
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED


def test_wrong_token_is_refused_even_beside_a_valid_session(client, county, owner):
    client.force_login(owner)
    with nothing_written(allow=BEARER_FAILURE):
        response = client.get(_node_url(county), headers=_bearer("mq_wrong"))
    assert response.status_code == 401


def test_revoked_token_gets_401_and_revoking_is_audited_once(county, owner, system_user):
    token, key = api_token_issue(user=owner, name="phone")
    assert Client().get(_node_url(county), headers=_bearer(key)).status_code == 200
    api_token_revoke(token=token, by=system_user)
    with nothing_written():  # revoking again changes nothing and writes no row
        api_token_revoke(token=token, by=system_user)
    assert token.revoked_at is not None
    with nothing_written(allow=BEARER_FAILURE):
        response = Client().get(_node_url(county), headers=_bearer(key))
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED
    events = list(AuditEvent.objects.filter(action="api_token.revoke"))
    assert len(events) == 1
    assert events[0].username == system_user.username
    assert events[0].object_id == str(token.pk)


def test_expired_token_gets_401(county, owner, monkeypatch):
    token, key = api_token_issue(user=owner, expires_days=1)
    assert Client().get(_node_url(county), headers=_bearer(key)).status_code == 200
    later = token.expires_at + dt.timedelta(seconds=1)
    monkeypatch.setattr("minqing.accounts.services.auth.timezone.now", lambda: later)
    with nothing_written(allow=BEARER_FAILURE):
        response = Client().get(_node_url(county), headers=_bearer(key))
    assert response.status_code == 401


def test_disabling_the_user_ends_their_tokens(county, owner):
    _token, key = api_token_issue(user=owner)
    assert Client().get(_node_url(county), headers=_bearer(key)).status_code == 200
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    with nothing_written(allow=BEARER_FAILURE):
        response = Client().get(_node_url(county), headers=_bearer(key))
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED


def test_last_used_is_written_at_most_once_a_minute(county, owner):
    token, key = api_token_issue(user=owner)
    assert token.last_used_at is None
    client = Client()
    client.get(_node_url(county), headers=_bearer(key))
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    client.get(_node_url(county), headers=_bearer(key))
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - dt.timedelta(minutes=2))
    client.get(_node_url(county), headers=_bearer(key))
    token.refresh_from_db()
    assert token.last_used_at > first


def test_token_is_scoped_like_its_user(county, outsider):
    _token, key = api_token_issue(user=outsider)
    client = Client()
    before = dbstate.read()
    assert client.get(_node_url(county), headers=_bearer(key)).status_code == 404
    # the token worked (its first use stamps ``last_used_at``); the 404 wrote nothing else
    assert dbstate.changes(before, dbstate.read()) == {"accounts.apitoken": {"changed": 1}}
    with nothing_written():
        response = client.post(
            _reveal_url(county),
            data='{"field": "phone"}',
            content_type="application/json",
            headers=_bearer(key),
        )
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}
    assert _reveals() == 0


def test_bearer_post_needs_no_csrf_and_is_audited_as_the_token_user(county, owner):
    _token, key = api_token_issue(user=owner)
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        _reveal_url(county),
        data='{"field": "phone"}',
        content_type="application/json",
        headers=_bearer(key),
    )
    assert response.status_code == 200
    assert response.json() == {"field": "phone", "value": "13812345678"}
    assert response["Cache-Control"] == "no-store"
    event = AuditEvent.objects.get(action="personal_data.reveal")
    assert event.username == "owner"
    assert event.user_id_value == owner.pk


def test_session_still_works_and_its_post_needs_the_csrf_token(county, owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.get(_node_url(county)).status_code == 200
    with nothing_written():
        response = client.post(_reveal_url(county), '{"field": "phone"}', "application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert _reveals() == 0
    secret = "a" * 32
    client.cookies["csrftoken"] = secret
    response = client.post(
        _reveal_url(county),
        '{"field": "phone"}',
        "application/json",
        headers={"x-csrftoken": secret},
    )
    assert response.status_code == 200
    assert _reveals() == 1


def test_anonymous_post_gets_401_not_a_csrf_refusal(county):
    with nothing_written():
        response = Client(enforce_csrf_checks=True).post(
            _reveal_url(county), '{"field": "phone"}', "application/json"
        )
    assert response.status_code == 401
    assert _reveals() == 0


def test_malformed_json_and_invalid_input_are_4xx_with_a_detail(client, county, owner):
    client.force_login(owner)
    with nothing_written():
        response = client.post(_reveal_url(county), "{", "application/json")
    assert response.status_code == 400
    assert response.json()["detail"]
    with nothing_written():
        response = client.post(_reveal_url(county), '{"field": "income"}', "application/json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Nothing to reveal in income.",
        "code": "household.nothing_to_reveal",
        "errors": {"field": ["Nothing to reveal in income."]},
        "codes": {"field": ["household.nothing_to_reveal"]},
    }
    with nothing_written():
        response = client.post(_reveal_url(county), '{"field": 5}', "application/json")
    assert response.status_code == 400  # ninja's 422, as documented (minqing.api)
    assert response.json() == {
        "detail": "Check the values sent.",
        "code": "invalid",
        "errors": {"field": ["Enter text."]},
        "codes": {"field": ["invalid"]},
    }
    assert _reveals() == 0


def test_service_exceptions_map_to_their_status():
    request = RequestFactory().get("/api/v1/x/")
    cases = [
        (
            ValidationError({"number": ["Taken."]}),
            400,
            {
                "detail": "Taken.",
                "code": "invalid",
                "errors": {"number": ["Taken."]},
                "codes": {"number": ["invalid"]},
            },
        ),
        (
            ValidationError("Bad.", code="x.bad"),
            400,
            {
                "detail": "Bad.",
                "code": "x.bad",
                "errors": {"__all__": ["Bad."]},
                "codes": {"__all__": ["x.bad"]},
            },
        ),
        (StaleEdit(), 409, {"detail": str(StaleEdit.message), "code": "stale_edit"}),
        (ApiToken.DoesNotExist(), 404, {"detail": "Not found.", "code": "not_found"}),
    ]
    for exc, status, body in cases:
        response = api.on_exception(request, exc)
        assert (response.status_code, json.loads(response.content)) == (status, body), exc
    from minqing.lib.errors import PermissionDenied

    response = api.on_exception(request, PermissionDenied("Not your village."))
    assert (response.status_code, json.loads(response.content)) == (
        403,
        {"detail": "Not your village.", "code": "forbidden"},
    )


def test_openapi_document_lists_the_household_paths_and_needs_auth(county, owner):
    url = reverse("api:openapi-json")
    assert url == "/api/v1/openapi.json"
    with nothing_written():
        response = Client().get(url)
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED
    _token, key = api_token_issue(user=owner)
    response = Client().get(url, headers=_bearer(key))
    assert response.status_code == 200
    doc = json.loads(response.content)
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    assert {
        "/api/v1/nodes/{pk}/",
        "/api/v1/households/{pk}/",
        "/api/v1/search/",
        "/api/v1/{kind}/{pk}/reveal/",
    } <= set(paths)
    # deny by default: every operation of every router declares the API's authentication,
    # but the one that issues a token for a password (a login path, like the login page)
    assert "security" not in paths["/api/v1/auth/token/"]["post"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            if (method, path) == ("post", "/api/v1/auth/token/"):
                continue
            assert operation.get("security") == [{"BearerTokenAuth": []}, {"SessionAuth": []}], (
                method,
                path,
            )
    assert doc["components"]["securitySchemes"]["BearerTokenAuth"] == {
        "type": "http",
        "scheme": "bearer",
    }
    assert "HouseholdOut" in doc["components"]["schemas"]


def test_there_is_no_docs_page_pulling_scripts_from_a_cdn(client, owner):
    client.force_login(owner)
    assert client.get("/api/v1/docs").status_code == 404
