"""Input no field can hold is refused in one place (minqing.lib.inputs.InputGuardMiddleware):
a NUL byte in any text, a lone surrogate in JSON, an integer past 64 bits in a query or a JSON
body. Each of the bad inputs that once made a 500 answers 400 with a message, and writes nothing."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from minqing.accounts.models import Role
from minqing.accounts.services import api_token_issue
from minqing.audit.models import AuditEvent
from minqing.conftest import PASSWORD, make_user
from minqing.contacts.selectors import card_token
from minqing.issues.models import Category, Issue
from minqing.visits.models import Visit

BIG = str(2**63 + 1)
NUL = "\x00"


@pytest.fixture
def leader(county):
    return make_user("leader", Role.GROUP_LEADER, county.grid_a1)


@pytest.fixture
def bearer(leader):
    return {"Authorization": f"Bearer {api_token_issue(user=leader)[1]}"}


def _visit_body(household, **kw) -> dict:
    return {
        "client_uuid": str(uuid.uuid4()),
        "household": household.pk,
        "mode": "home",
        "visited_at": (timezone.now() - dt.timedelta(minutes=1)).isoformat(),
        "notes": "走访",
    } | kw


def _register(client, county, leader, **fields):
    client.force_login(leader)
    data = {
        "colour": "blue",
        "category": Category.objects.get(code="irrigation").pk,
        "description": "水渠漏水",
        "complexity": "general",
        "source": "visit",
    } | fields
    return client.post(reverse("issues:register") + f"?household={county.household_a1.pk}", data)


def _json(client, path, raw: str, headers):
    return client.post(path, raw, content_type="application/json", headers=headers)


ATTACKS = {
    "register: NUL in the description": lambda c, k, u, b: _register(
        c, k, u, description="水渠" + NUL + "漏水"
    ),
    "register: NUL in a choice": lambda c, k, u, b: _register(c, k, u, colour="blue" + NUL),
    "register: NUL in the query": lambda c, k, u, b: (
        c.force_login(u),
        c.post(reverse("issues:register") + f"?household={k.household_a1.pk}{NUL}", {}),
    )[1],
    "visit API: NUL in the notes": lambda c, k, u, b: _json(
        c, "/api/v1/visits/", json.dumps(_visit_body(k.household_a1, notes="走" + NUL)), b
    ),
    "visit API: NUL in the mode": lambda c, k, u, b: _json(
        c, "/api/v1/visits/", json.dumps(_visit_body(k.household_a1, mode="home" + NUL)), b
    ),
    "visit API: lone surrogate": lambda c, k, u, b: _json(
        c,
        "/api/v1/visits/",
        json.dumps(_visit_body(k.household_a1), ensure_ascii=False).replace("走访", "\\ud800走访"),
        b,
    ),
    "visit API: household past 2^63": lambda c, k, u, b: _json(
        c,
        "/api/v1/visits/",
        json.dumps(_visit_body(k.household_a1)).replace(
            f'"household": {k.household_a1.pk}', f'"household": {BIG}'
        ),
        b,
    ),
    "search page: NUL": lambda c, k, u, b: (
        c.force_login(u),
        c.get(reverse("households:search"), {"q": "王" + NUL}),
    )[1],
    "search API: NUL": lambda c, k, u, b: c.get("/api/v1/search/", {"q": "王" + NUL}, headers=b),
    "public submission: NUL": lambda c, k, u, b: c.post(
        reverse("public:submit", kwargs={"token": card_token(k.household_a1.pk)}),
        {"description": "路灯坏了" + NUL, "name": "王小明", "phone": "13900001234"},
    ),
    "login: NUL in the username": lambda c, k, u, b: c.post(
        reverse("accounts:login"), {"username": "leader" + NUL, "password": PASSWORD}
    ),
    "issue list page: page past 2^63": lambda c, k, u, b: (
        c.force_login(u),
        c.get(reverse("issues:list"), {"page": BIG}),
    )[1],
    "issue list page: household past 2^63": lambda c, k, u, b: (
        c.force_login(u),
        c.get(reverse("issues:register"), {"household": BIG}),
    )[1],
    "issues API: offset past 2^63": lambda c, k, u, b: c.get(
        "/api/v1/issues/", {"offset": BIG}, headers=b
    ),
    "issues API: village past 2^63": lambda c, k, u, b: c.get(
        "/api/v1/issues/", {"village": BIG}, headers=b
    ),
    "issues API: negative past 2^63": lambda c, k, u, b: c.get(
        "/api/v1/issues/", {"village": "-" + BIG}, headers=b
    ),
}


def _counts() -> tuple[int, int, int]:
    return Issue.objects.count(), Visit.objects.count(), AuditEvent.objects.count()


@pytest.mark.parametrize("attack", ATTACKS)
def test_bad_input_is_refused_with_400_and_nothing_is_written(
    client, county, leader, bearer, attack
):
    before = _counts()
    response = ATTACKS[attack](client, county, leader, bearer)
    assert response.status_code == 400, response.content[:300]
    assert _counts() == before


def test_the_refusal_names_the_parameter_in_chinese(client, county, leader, bearer, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    headers = bearer | {"Accept-Language": "zh-hans"}
    response = client.get("/api/v1/search/", {"q": "王" + NUL}, headers=headers)
    assert response.status_code == 400
    message = "“q”中含有无法保存的空字符（U+0000），请删除后重新提交。"
    assert response.json() == {
        "detail": message,
        "code": "invalid",
        "errors": {"q": [message]},
        "codes": {"q": ["invalid"]},
    }
    response = client.get("/api/v1/issues/", {"offset": BIG}, headers=headers)
    message = "“offset”超出范围：此处的数字须在 -9223372036854775808 到 9223372036854775807 之间。"
    assert response.json() == {
        "detail": message,
        "code": "invalid",
        "errors": {"offset": [message]},
        "codes": {"offset": ["invalid"]},
    }
    client.force_login(leader)
    page = client.get(reverse("households:search"), {"q": "王" + NUL}, headers=headers)
    assert page.status_code == 400
    body = page.content.decode()
    assert "“q”中含有无法保存的空字符" in body and "什么也没有保存" in body


def test_json_keys_nesting_and_numbers_are_checked_everywhere(client, county, leader, bearer):
    before = _counts()
    body = _visit_body(county.household_a1)
    cases = {
        "key": json.dumps(body | {"x\u0000": 1}),
        "key surrogate": json.dumps(body, ensure_ascii=False)[:-1] + ', "\\udfff": 1}',
        "deep": "[" * 100_000 + "]" * 100_000,
        "nested number": json.dumps(body | {"extra": [{"n": -(2**63) - 1}]}),
    }
    for name, raw in cases.items():
        response = _json(client, "/api/v1/visits/", raw, bearer)
        assert response.status_code == 400, name
        assert response.json()["detail"], name
    assert _counts() == before


def test_the_path_and_query_keys_are_checked(client, county, leader, bearer):
    client.force_login(leader)
    assert client.get("/households/search/%00/").status_code == 400
    assert client.get("/households/search/", {"q\u0000": "1"}).status_code == 400
    # digits, underscores and full-width digits read as numbers by int(): all bounded
    for value in ("9_223_372_036_854_775_808", "９" * 20, " 99999999999999999999 "):
        assert client.get("/api/v1/issues/", {"offset": value}, headers=bearer).status_code == 400


def test_numbers_at_the_limits_and_long_digit_text_pass(client, county, leader, bearer):
    response = client.get("/api/v1/issues/", {"village": str(2**63 - 1)}, headers=bearer)
    assert response.status_code == 200 and response.json()["count"] == 0
    # a 19-digit card number typed into a note is text, not a number
    response = _json(
        client,
        "/api/v1/visits/",
        json.dumps(_visit_body(county.household_a1, notes="卡号 9558800000000000001")),
        bearer,
    )
    assert response.status_code == 201
    assert Visit.objects.get().notes == "卡号 9558800000000000001"


@pytest.mark.parametrize(
    "path", ["/issues/99999999999999999999/", "/api/v1/issues/99999999999999999999/"]
)
def test_an_address_with_a_number_past_64_bits_is_not_found(client, leader, bearer, path):
    client.force_login(leader)
    assert client.get(path, headers=bearer).status_code == 404


def test_a_malformed_multipart_body_is_a_400(client, bearer):
    response = client.generic(
        "POST", "/api/v1/visits/", b"--x\r\n", content_type="multipart/form-data", headers=bearer
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "body": ["The form data is malformed; send the form again."]
    }
