"""docs/SECURITY-BAR.md §3, §4 for API tokens: tokens expire by default, end with the password and
with the account, obey password expiry like sessions, and can be revoked on a page and by the
command; the token-issue endpoint is a login path; failed bearer tokens are audited and
limited per address."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from minqing.accounts.models import ApiToken, Role
from minqing.accounts.services import api_token_issue, user_disable, user_enable
from minqing.audit.models import AuditEvent
from minqing.conftest import PASSWORD, make_user
from minqing.tests import dbstate
from minqing.tests.dbstate import nothing_written

NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
#: The token routes and where their scoping is tested (households/tests/test_scoping collects
#: them): another's token is a 404 (test_the_tokens_page_lists_and_revokes_ones_own), the list
#: of everybody's is the security admin's alone (403), the token issue is a login path.
ROUTE_NAMES = {"accounts:tokens", "accounts:tokens_all", "accounts:token_revoke", "api:token_issue"}
NEW_PASSWORD = "Granary-Lantern-73"
#: One audit row: a failed login (a refused bearer token: the first per address and minute,
#: ``login`` success False; a wrong password), a lockout (``login.locked``) or a limit's trip
#: (``rate_limited``). Counters live in the cache, not the database.
ONE_AUDIT_ROW = {"audit.auditevent": 1}


def _bearer(key: str, ip: str = "127.0.0.1") -> Client:
    return Client(headers={"authorization": f"Bearer {key}"}, REMOTE_ADDR=ip)


def _node(county) -> str:
    return reverse("api:node", kwargs={"pk": county.village_a.pk})


def _token_url() -> str:
    return reverse("api:token_issue")


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _home_status(client) -> int:
    """200 for a logged-in user, 302 to the login page otherwise."""
    return client.get(reverse("accounts:tokens")).status_code


def _their_node(county) -> str:
    return reverse("api:node", kwargs={"pk": county.village_b.pk})


@pytest.fixture
def security_admin(county):
    return make_user("secadmin", Role.SECURITY_ADMIN)


# --------------------------------------------------------------------------- expiry


def test_a_new_token_expires_after_the_configured_days(county, owner, settings):
    settings.MINQING_API_TOKEN_DAYS = 90
    settings.MINQING_PASSWORD_EXPIRY_DAYS = 0
    with time_machine.travel(NOW, tick=False):
        owner.set_password(PASSWORD)
        owner.save()
        token, key = api_token_issue(user=owner)
        assert token.expires_at == NOW + dt.timedelta(days=90)
    with time_machine.travel(NOW + dt.timedelta(days=89, hours=23), tick=False):
        assert _bearer(key).get(_node(county)).status_code == 200
    with time_machine.travel(NOW + dt.timedelta(days=90, seconds=1), tick=False):
        with nothing_written(allow=ONE_AUDIT_ROW):
            response = _bearer(key).get(_node(county))
        assert response.status_code == 401


def test_the_command_issues_with_the_default_lifetime(county, owner, settings):
    settings.MINQING_API_TOKEN_DAYS = 30
    call_command("api_token", "owner", stdout=io.StringIO(), stderr=io.StringIO())
    token = ApiToken.objects.get()
    assert token.expires_at - token.created_at == dt.timedelta(days=30)


def test_an_expired_password_refuses_the_bearer_token_like_the_session(county, owner, settings):
    settings.MINQING_PASSWORD_EXPIRY_DAYS = 90
    settings.MINQING_API_TOKEN_DAYS = 365
    with time_machine.travel(NOW, tick=False):
        owner.set_password(PASSWORD)
        owner.save()
        _token, key = api_token_issue(user=owner)
        assert _bearer(key).get(_node(county)).status_code == 200
    with time_machine.travel(NOW + dt.timedelta(days=91), tick=False):
        with nothing_written():  # not even the token's ``last_used_at``
            response = _bearer(key).get(_node(county))
        assert response.status_code == 403
        assert response.json() == {
            "detail": "Password expired: change it on the web page first.",
            "code": "forbidden",
        }
        # no data in the refusal, and the session says the same
        logged_in = _logged_in(owner)
        with nothing_written():
            session = logged_in.get(_node(county))
        assert session.status_code == 403


# --------------------------------------------------------------------------- password change


def test_changing_the_password_revokes_tokens_and_ends_other_sessions(client, county, owner):
    _token, key = api_token_issue(user=owner)
    other_device = _logged_in(owner)
    assert _home_status(other_device) == 200
    client.force_login(owner)
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    with nothing_written(allow=ONE_AUDIT_ROW):
        assert _bearer(key).get(_node(county)).status_code == 401
    assert ApiToken.objects.get().revoked_at is not None
    revoke = AuditEvent.objects.get(action="api_token.revoke")
    assert revoke.detail["reason"] == "password_changed"
    with nothing_written():
        assert _home_status(other_device) == 302  # back to the login page
    assert _home_status(client) == 200  # the one who changed it stays in


def test_a_password_set_by_any_other_path_also_ends_older_tokens(county, owner):
    """``set_password`` outside the service (a shell, ``changepassword``): saving the new
    password revokes the account's tokens all the same, audited."""
    _token, key = api_token_issue(user=owner)
    owner.set_password(NEW_PASSWORD)
    owner.save()
    with nothing_written(allow=ONE_AUDIT_ROW):
        assert _bearer(key).get(_node(county)).status_code == 401
    row = AuditEvent.objects.get(action="api_token.revoke")
    assert (row.detail["reason"], row.detail["user"]) == ("password_changed", "owner")
    owner.full_name = "王主任"
    owner.save()  # a save without a new password revokes nothing
    _token, fresh = api_token_issue(user=owner)
    assert _bearer(fresh).get(_node(county)).status_code == 200


# --------------------------------------------------------------------------- disable


def test_disabling_ends_sessions_and_tokens_and_enabling_brings_neither_back(
    county, owner, security_admin
):
    _token, key = api_token_issue(user=owner)
    session = _logged_in(owner)
    cookie = session.cookies["sessionid"].value
    assert _home_status(session) == 200
    user_disable(user=owner, by=security_admin)
    with nothing_written(allow=ONE_AUDIT_ROW):
        assert _bearer(key).get(_node(county)).status_code == 401
    with nothing_written():
        assert _home_status(session) == 302
    user_enable(user=owner, by=security_admin)
    # the old cookie and the old token stay dead
    replay = Client()
    replay.cookies["sessionid"] = cookie
    with nothing_written():
        assert _home_status(replay) == 302
    # (another address: its first refused token of the minute is audited, exactly one row)
    with nothing_written(allow=ONE_AUDIT_ROW):
        assert _bearer(key, ip="10.0.0.2").get(_node(county)).status_code == 401
    assert ApiToken.objects.get().revoked_at is not None
    actions = list(
        AuditEvent.objects.filter(action__startswith="account.").values_list("action", flat=True)
    )
    assert actions == ["account.disable", "account.enable"]
    disable = AuditEvent.objects.get(action="account.disable")
    assert disable.detail["tokens"] == [ApiToken.objects.get().prefix]
    assert disable.username == "secadmin"
    # a fresh login works
    fresh = Client()
    response = fresh.post(reverse("accounts:login"), {"username": "owner", "password": PASSWORD})
    assert response.status_code == 302 and _home_status(fresh) == 200


def test_the_old_session_stays_dead_even_if_not_deleted(county, owner, security_admin):
    """The session rows are deleted, and beside that the session hash carries the epoch: a
    session restored from a backup does not come back either."""
    from django.contrib.sessions.models import Session

    session = _logged_in(owner)
    saved = list(Session.objects.values())
    user_disable(user=owner, by=security_admin)
    assert not Session.objects.exists()
    user_enable(user=owner, by=security_admin)
    Session.objects.bulk_create([Session(**row) for row in saved])
    with nothing_written():
        assert _home_status(session) == 302


# --------------------------------------------------------------------------- revoking


def test_the_tokens_page_lists_and_revokes_ones_own(client, county, owner, outsider):
    mine, key = api_token_issue(user=owner, name="ledger sync")
    theirs, their_key = api_token_issue(user=outsider, name="phone")
    client.force_login(owner)
    page = client.get(reverse("accounts:tokens"))
    assert page.status_code == 200
    body = page.content.decode()
    assert mine.prefix in body and "ledger sync" in body
    assert theirs.prefix not in body
    assert reverse("accounts:tokens_all") not in body
    # somebody else's token: 404, like missing
    with nothing_written():
        assert client.post(reverse("accounts:token_revoke", args=[theirs.pk])).status_code == 404
    assert _bearer(their_key).get(_their_node(county)).status_code == 200
    response = client.post(reverse("accounts:token_revoke", args=[mine.pk]))
    assert response.status_code == 302
    with nothing_written(allow=ONE_AUDIT_ROW):
        assert _bearer(key).get(_node(county)).status_code == 401
    assert AuditEvent.objects.filter(action="api_token.revoke", username="owner").count() == 1
    with nothing_written():
        assert client.get(reverse("accounts:tokens_all")).status_code == 403


def test_the_tokens_page_makes_a_token_shown_once(client, county, owner):
    client.force_login(owner)
    response = client.post(reverse("accounts:tokens"), {"name": "phone", "expires_days": "7"})
    assert response.status_code == 200
    token = ApiToken.objects.get()
    assert token.expires_at - token.created_at == dt.timedelta(days=7)
    body = response.content.decode()
    start = body.index('<code class="secret token-secret">') + len(
        '<code class="secret token-secret">'
    )
    key = body[start : body.index("</code>", start)]
    assert key.startswith(token.prefix)
    assert _bearer(key).get(_node(county)).status_code == 200
    assert key not in client.get(reverse("accounts:tokens")).content.decode()
    with nothing_written():
        bad = client.post(reverse("accounts:tokens"), {"name": "x", "expires_days": "0"})
    assert bad.status_code == 400 and ApiToken.objects.count() == 1


def test_the_security_admin_sees_and_revokes_everybodys(client, county, owner, security_admin):
    token, key = api_token_issue(user=owner, name="ledger sync")
    client.force_login(security_admin)
    page = client.get(reverse("accounts:tokens_all"), {"user": " OWNER "})
    assert page.status_code == 200 and token.prefix in page.content.decode()
    response = client.post(reverse("accounts:token_revoke", args=[token.pk]))
    assert response.status_code == 302
    with nothing_written(allow=ONE_AUDIT_ROW):
        assert _bearer(key).get(_node(county)).status_code == 401
    row = AuditEvent.objects.get(action="api_token.revoke")
    assert (row.username, row.detail["user"]) == ("secadmin", "owner")


def test_the_command_lists_and_revokes_by_prefix(county, owner, outsider):
    first, key = api_token_issue(user=owner, name="a")
    second, key2 = api_token_issue(user=owner, name="b")
    third, key3 = api_token_issue(user=outsider, name="c")
    out = io.StringIO()
    call_command("api_token", "--list", "owner", stdout=out)
    listed = out.getvalue()
    assert first.prefix in listed and second.prefix in listed and third.prefix not in listed
    call_command("api_token", "--revoke", first.prefix + "…", stderr=io.StringIO())
    with nothing_written(allow=ONE_AUDIT_ROW):
        assert _bearer(key).get(_node(county)).status_code == 401
    assert _bearer(key2).get(_node(county)).status_code == 200
    with nothing_written(), pytest.raises(CommandError):
        call_command("api_token", "--revoke", "mq_", stderr=io.StringIO())
    call_command("api_token", "--revoke-all", "Owner", stderr=io.StringIO())
    # (another address: its first refused token of the minute is audited, exactly one row)
    with nothing_written(allow=ONE_AUDIT_ROW):
        assert _bearer(key2, ip="10.0.0.2").get(_node(county)).status_code == 401
    assert _bearer(key3).get(_their_node(county)).status_code == 200
    assert AuditEvent.objects.filter(action="api_token.revoke").count() == 2


# --------------------------------------------------------------------------- bearer failures


def test_failed_bearer_tokens_are_audited_sparsely_and_limited_per_address(county, owner, settings):
    settings.MINQING_RATE_LIMITS = {"bearer.address": (20, 900)}
    _token, good = api_token_issue(user=owner)
    with time_machine.travel(NOW, tick=False):
        for attempt in range(20):
            # the first failure of the minute is audited, the others only counted (cache)
            with nothing_written(allow={"audit.auditevent": 1 if attempt == 0 else 0}):
                response = _bearer(f"mq_guess{attempt:040d}").get(_node(county))
            assert response.status_code == 401
        rows = AuditEvent.objects.filter(action="login", success=False, detail__via="bearer")
        assert rows.count() == 1  # the first of the minute, not twenty
        assert rows.get().username == "" and rows.get().ip == "127.0.0.1"
        # past the limit even a good token from that address waits; the trip is audited
        with nothing_written(allow=ONE_AUDIT_ROW):
            limited = _bearer(good).get(_node(county))
        assert limited.status_code == 429
        assert "Too many requests" in limited.json()["detail"]
        with nothing_written():
            for _ in range(50):
                assert _bearer("mq_flood").get(_node(county)).status_code == 429
        assert AuditEvent.objects.filter(action="rate_limited").count() == 1
        assert rows.count() == 1
        # another address is not affected
        assert _bearer(good, ip="10.0.0.7").get(_node(county)).status_code == 200
    with time_machine.travel(NOW + dt.timedelta(minutes=15, seconds=1), tick=False):
        assert _bearer(good).get(_node(county)).status_code == 200


def test_a_revoked_token_is_audited_with_its_prefix(county, owner, system_user):
    from minqing.accounts.services import api_token_revoke

    token, key = api_token_issue(user=owner)
    api_token_revoke(token=token, by=system_user)
    with nothing_written(allow=ONE_AUDIT_ROW):
        assert _bearer(key).get(_node(county)).status_code == 401
    row = AuditEvent.objects.get(action="login", success=False)
    assert row.detail == {
        "via": "bearer",
        "reason": "revoked",
        "prefix": token.prefix,
        "failures": 1,
    }


# --------------------------------------------------------------------------- token issue


def test_the_token_endpoint_issues_a_working_token_for_the_password(county, owner):
    response = Client().post(
        _token_url(),
        {"username": " OWNER", "password": PASSWORD, "name": "phone"},
        content_type="application/json",
    )
    assert response.status_code == 201
    key = response.json()["token"]
    assert _bearer(key).get(_node(county)).status_code == 200
    token = ApiToken.objects.get()
    assert (token.user, token.name, response.json()["prefix"]) == (owner, "phone", token.prefix)
    assert AuditEvent.objects.filter(action="login", success=True, detail__via="api_token").count()


def test_the_token_endpoint_shares_the_lockout_with_the_web_form(client, county, owner):
    for attempt in range(5):
        with nothing_written(allow=ONE_AUDIT_ROW):  # its ``login`` failure
            response = Client().post(
                _token_url(),
                {"username": "ｏｗｎｅｒ ", "password": f"Wrong-guess-{attempt}"},
                content_type="application/json",
            )
        assert response.status_code == 401
        assert response.json() == {
            "detail": "Wrong username or password.",
            "code": "account.wrong_credentials",
        }
    with nothing_written(allow=ONE_AUDIT_ROW):  # its ``login.locked`` row
        locked = Client().post(
            _token_url(),
            {"username": "owner", "password": PASSWORD},
            content_type="application/json",
        )
    assert locked.status_code == 403 and "locked" in locked.json()["detail"]
    with nothing_written(allow=ONE_AUDIT_ROW):  # its ``login.locked`` row, no ``last_login``
        web = client.post(reverse("accounts:login"), {"username": "owner", "password": PASSWORD})
    assert web.status_code == 200 and "_auth_user_id" not in client.session
    assert not ApiToken.objects.exists()
    failures = AuditEvent.objects.filter(action="login", success=False, detail__via="api_token")
    assert set(failures.values_list("username", flat=True)) == {"owner"}
    assert failures.count() == 5


def test_the_token_endpoint_is_rate_limited_per_address(county, owner, settings):
    settings.MINQING_RATE_LIMITS = {"api_token.issue": (3, 900)}
    with time_machine.travel(NOW, tick=False):
        for _ in range(3):
            response = Client().post(
                _token_url(),
                {"username": "owner", "password": PASSWORD},
                content_type="application/json",
            )
            assert response.status_code == 201
        with nothing_written(allow=ONE_AUDIT_ROW):  # the trip's ``rate_limited`` row
            response = Client().post(
                _token_url(),
                {"username": "owner", "password": PASSWORD},
                content_type="application/json",
            )
        assert response.status_code == 429
        assert ApiToken.objects.count() == 3
        other = Client(REMOTE_ADDR="10.0.0.8").post(
            _token_url(),
            {"username": "owner", "password": PASSWORD},
            content_type="application/json",
        )
        assert other.status_code == 201
    with time_machine.travel(NOW + dt.timedelta(minutes=15, seconds=1), tick=False):
        response = Client().post(
            _token_url(),
            {"username": "owner", "password": PASSWORD},
            content_type="application/json",
        )
        assert response.status_code == 201


def test_the_token_endpoint_refuses_an_expired_password(county, owner, settings):
    settings.MINQING_PASSWORD_EXPIRY_DAYS = 90
    type(owner).objects.filter(pk=owner.pk).update(
        password_changed_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    )
    with nothing_written():
        response = Client().post(
            _token_url(),
            {"username": "owner", "password": PASSWORD},
            content_type="application/json",
        )
    assert response.status_code == 403
    assert not ApiToken.objects.exists()


def test_a_hash_upgrade_does_not_open_the_token_endpoint_to_an_expired_password(
    county, owner, settings
):
    settings.MINQING_PASSWORD_EXPIRY_DAYS = 90
    older, _key = api_token_issue(user=owner)
    type(owner).objects.filter(pk=owner.pk).update(
        password_changed_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    )
    # the stored (MD5) hash is rehashed with the preferred hasher once the password is checked
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    before = dbstate.read()
    response = Client().post(
        _token_url(), {"username": "owner", "password": PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 403
    # only the rehashed password in the user's row: no token issued, none revoked, no audit
    assert dbstate.changes(before, dbstate.read()) == {"accounts.user": {"changed": 1}}
    owner.refresh_from_db()
    assert owner.password.startswith("pbkdf2_sha256$")
    assert owner.password_changed_at == dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    older.refresh_from_db()
    assert older.revoked_at is None
