"""The API's error contract: every refusal answers a stable ``code`` beside its words, field
errors their ``codes``, and the OpenAPI schema lists every code an answer may carry; every
``ValidationError`` a service raises names its code."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from minqing.accounts.errors import AccountErrorCode
from minqing.accounts.models import Role
from minqing.accounts.services import api_token_issue
from minqing.api import api
from minqing.audit.models import AuditEvent
from minqing.conftest import PASSWORD, make_user
from minqing.lib.errors import ErrorCode, InvalidTransition, PermissionDenied, StaleEdit, all_codes
from minqing.lib.ratelimit import Limit, RateLimited
from minqing.org.errors import OrgErrorCode
from minqing.workdays.errors import WorkdaysErrorCode

ROOT = Path(__file__).resolve().parents[2]


def _bearer(user) -> dict[str, str]:
    return {"authorization": f"Bearer {api_token_issue(user=user)[1]}"}


def _answer(exc: Exception) -> tuple[int, dict]:
    response = api.on_exception(RequestFactory().get("/api/v1/x/"), exc)
    return response.status_code, json.loads(response.content)


def test_400_names_the_code_of_each_field(client, county, owner):
    url = reverse("api:reveal", kwargs={"kind": "residents", "pk": county.resident_a1.pk})
    headers = _bearer(owner)
    before = AuditEvent.objects.count()
    response = client.post(url, '{"field": "income"}', "application/json", headers=headers)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "household.nothing_to_reveal"
    assert body["codes"] == {"field": ["household.nothing_to_reveal"]}
    assert AuditEvent.objects.count() == before  # nothing revealed, nothing recorded


def test_401_without_credentials(client, db):
    response = client.get("/api/v1/issues/")
    assert response.status_code == 401
    assert response.json()["code"] == ErrorCode.UNAUTHENTICATED


def test_401_wrong_password_at_the_token_endpoint(county, owner):
    response = Client().post(
        reverse("api:token_issue"),
        {"username": "owner", "password": "Wrong-guess-1"},
        content_type="application/json",
    )
    assert response.status_code == 401
    assert response.json()["code"] == AccountErrorCode.WRONG_CREDENTIALS
    assert not owner.api_tokens.exists()


def test_403_forbidden_and_404_not_found(client, county, owner):
    assert _answer(PermissionDenied("Not your village.")) == (
        403,
        {"detail": "Not your village.", "code": "forbidden"},
    )
    outsider = make_user("stranger", Role.GROUP_LEADER, county.grid_b1)
    response = client.get(
        reverse("api:node", kwargs={"pk": county.village_a.pk}), headers=_bearer(outsider)
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": ErrorCode.NOT_FOUND}


def test_409_stale_edit_and_409_invalid_transition():
    status, body = _answer(StaleEdit())
    assert (status, body["code"]) == (409, ErrorCode.STALE_EDIT)
    status, body = _answer(InvalidTransition("Not in this state."))
    assert (status, body["code"]) == (409, ErrorCode.INVALID_TRANSITION)
    status, body = _answer(InvalidTransition("Closed.", code="invalid_transition"))
    assert body["codes"] == {"__all__": ["invalid_transition"]}


def test_429_rate_limited(county, owner, settings):
    status, body = _answer(RateLimited(Limit("search", 1, 60), 30))
    assert (status, body["code"]) == (429, ErrorCode.RATE_LIMITED)
    settings.MINQING_RATE_LIMITS = {"login.address": (1, 900)}
    token = reverse("api:token_issue")
    client = Client()
    wrong = {"username": "owner", "password": "Wrong-guess-1"}
    assert client.post(token, wrong, content_type="application/json").status_code == 401
    right = {"username": "owner", "password": PASSWORD}
    response = client.post(token, right, content_type="application/json")
    assert response.status_code == 429
    assert response.json()["code"] == ErrorCode.RATE_LIMITED
    assert not owner.api_tokens.exists()


def test_the_schema_lists_every_registered_code(db):
    schema = api.get_openapi_schema()
    codes = schema["components"]["schemas"]["ErrorOut"]["properties"]["code"]["enum"]
    assert codes == all_codes()
    for enum in (ErrorCode, AccountErrorCode, OrgErrorCode, WorkdaysErrorCode):
        assert {c.value for c in enum} <= set(codes), enum


# --------------------------------------------------------------------------- the services


def _service_modules() -> list[Path]:
    paths = [*ROOT.glob("*/services.py"), *ROOT.glob("*/services/*.py")]
    return sorted(p for p in paths if "demo" not in p.parts)


def _is_validation_error(call: ast.Call) -> bool:
    func = call.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    return name == "ValidationError"


def _carries_codes(call: ast.Call) -> bool:
    """``code=``; or a field dict of ``ValidationError(..., code=...)`` (each checked where it
    is made); or a variable that holds errors built above (checked where they are made)."""
    if any(k.arg == "code" for k in call.keywords):
        return True
    if not call.args:
        return False
    arg = call.args[0]
    if isinstance(arg, ast.Name):
        return True
    if isinstance(arg, ast.Dict):
        values = [v.elts if isinstance(v, ast.List) else [v] for v in arg.values]
        return all(isinstance(v, ast.Call) and _is_validation_error(v) for vs in values for v in vs)
    return False


def test_every_validation_error_of_a_service_carries_a_code():
    modules = _service_modules()
    assert len(modules) > 10
    missing = []
    for path in modules:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _is_validation_error(node):
                if not _carries_codes(node):
                    missing.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}")
    assert not missing, "ValidationError without a code:\n" + "\n".join(missing)


@pytest.mark.parametrize("enum", [AccountErrorCode, OrgErrorCode, WorkdaysErrorCode])
def test_app_codes_are_prefixed_by_their_app(enum):
    prefix = {AccountErrorCode: "account.", OrgErrorCode: "org.", WorkdaysErrorCode: "workdays."}
    assert all(c.value.startswith(prefix[enum]) for c in enum)
