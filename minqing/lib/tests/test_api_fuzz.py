"""The API fuzzed against its own OpenAPI schema with schemathesis (docs/SECURITY-BAR.md §15): as a
village cadre with a bearer token and as nobody, every operation, bounded examples. No answer is a
5xx, and every answer's status, content type and body are the ones the schema documents."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis import checks

from minqing.accounts.models import Role
from minqing.accounts.services import api_token_issue
from minqing.api import api, urls
from minqing.conftest import make_user
from minqing.lib import ratelimit

urls()  # the routers are mounted when the URLconf loads; the schema needs them now
schema = schemathesis.openapi.from_dict(api.get_openapi_schema())


class _App:
    """The WSGI app schemathesis calls, made per test after the test settings (plain HTTP):
    Django's middleware reads the settings when it is built."""

    handler: WSGIHandler | None = None

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        assert self.handler is not None
        return self.handler(environ, start_response)


APP = _App()
schema.app = APP

#: What must hold for every answer (schemathesis' other checks judge whether a refusal was
#: "right", which a scoped user's 404 for a generated id is by design).
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,  # the same cases on every run: a failure can be replayed
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def _no_rate_limits(settings):
    settings.MINQING_RATE_LIMITS = {name: (10**9, 60) for name in ratelimit.DEFAULT_LIMITS}
    APP.handler = WSGIHandler()
    # as Django's test client does: the test's transaction outlives each request
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def cadre_token(county, _no_rate_limits) -> str:
    cadre = make_user("fuzz_cadre", Role.VILLAGE_CADRE, county.village_a)
    return api_token_issue(user=cadre)[1]


@pytest.mark.slow
@schema.parametrize()
@FUZZ
def test_api_as_a_cadre(case, cadre_token):
    case.call_and_validate(headers={"Authorization": f"Bearer {cadre_token}"}, checks=CHECKS)


@pytest.mark.slow
@schema.parametrize()
@settings(FUZZ, max_examples=10)
def test_api_as_nobody(case, county, _no_rate_limits):
    response = case.call_and_validate(checks=CHECKS)
    assert response.status_code in (400, 401, 404, 405), response.text[:200]
