"""Deny by default (docs/SECURITY-BAR.md §6): walk the whole URL resolver, not a list of known
routes.

Every pattern the project serves is requested (GET and POST) as an anonymous visitor and as a
logged-in user with no role. Anonymous: the login page (pages) or 401 (API), except the views
marked public, which are named here so a new public view is a conscious change. No role: a
refusal (403, 404, or another 4xx), except the few pages about one's own account, which answer
without any of the county's data. Every refusal writes nothing at all (minqing.tests.dbstate).
A new URL is covered the day it is added.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RoutePattern

from minqing.conftest import make_user
from minqing.tests import dbstate

#: Reachable without logging in (``@public``); nothing here shows personal data.
PUBLIC = {
    "healthz",
    "favicon",
    "set_language",
    "accounts:login",
    "accounts:logout",
    "public:submit",
    "public:thanks",
    "visits:service_worker",
    "menus:service_worker",
}

#: API operations open without a token (ninja ``auth=None``): the token issue itself.
#: (Every API view is public to the login middleware; ninja's ``auth`` decides there.)
PUBLIC_API = {"api:token_issue"}

#: Pages every logged-in account has, about the account itself, or lists that are empty for a
#: user with no place: they may answer 200 (or redirect) to a user with no role, with none of
#: the county's data in them (checked below).
OWN_ACCOUNT = {
    "org:home",
    "issues:board",
    "issues:late",
    "accounts:password_change",
    "households:search",
    "notifications:list",
    "notifications:mark_read",
    "workdays:calendar",
    "ledger:template",
    "visits:mine",
    "visits:new",
    "visits:token",
    "menus:tasks",
    "issues:list",
    "accounts:tokens",
    "accounts:otp_settings",
    "accounts:otp_enrol",
    "accounts:otp_verify",
    "accounts:otp_recovery_codes",
    "api:me",
    "api:search",
    "api:openapi-json",
    "api:api-root",
    "api:issues",
    "api:issue_register",  # GET of /api/v1/issues/ is the (empty) list; POST is checked too
    "api:my_households",
    "api:menu_tasks",
}

#: What the county fixture holds that a user with no role must never be shown.
DATA = ("王建国", "王秀英", "李德明", "王庄村", "李集村", "古井镇", "华佗镇", "A001", "1381234")

#: A sample value per URL parameter name; else one that the converter accepts.
BY_NAME = {
    "kind": "resident",
    "field": "phone",
    "action": "close",
    "token": "x",
}
CANDIDATES = ("1", "residents", "households", "resident", "x", "2026-12-01")


@dataclass(frozen=True)
class Route:
    name: str
    route: str
    converters: dict[str, Any]
    callback: Any

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/")

    @property
    def is_public(self) -> bool:
        target = getattr(self.callback, "view_class", self.callback)
        return bool(
            getattr(self.callback, "minqing_public", False)
            or getattr(target, "minqing_public", False)
        )

    def url(self) -> str:
        def sample(match: re.Match[str]) -> str:
            name = match.group("name")
            converter = self.converters[name]
            values = ([BY_NAME[name]] if name in BY_NAME else []) + list(CANDIDATES)
            for value in values:
                if re.fullmatch(converter.regex, value):
                    return value
            raise AssertionError(f"no sample for <{name}> in {self.route}")

        return "/" + re.sub(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>", sample, self.route)


def all_routes() -> list[Route]:
    found: list[Route] = []

    def walk(patterns: list[Any], prefix: str, route: str, converters: dict[str, Any]) -> None:
        for p in patterns:
            if not isinstance(p.pattern, RoutePattern):
                raise AssertionError(f"a regex URL pattern cannot be walked: {p.pattern}")
            here = {**converters, **p.pattern.converters}
            if isinstance(p, URLResolver):
                ns = f"{prefix}{p.namespace}:" if p.namespace else prefix
                walk(p.url_patterns, ns, route + str(p.pattern), here)
            elif isinstance(p, URLPattern):
                name = prefix + (p.name or f"<unnamed {route}{p.pattern}>")
                found.append(Route(name, route + str(p.pattern), here, p.callback))

    walk(get_resolver().url_patterns, "", "", {})
    return found


ROUTES = all_routes()


def test_the_walk_finds_every_route_and_the_public_ones_are_exactly_these():
    names = {r.name for r in ROUTES}
    assert len(ROUTES) > 90
    assert {"households:reveal", "api:reveal", "contacts:cards_pdf", "audit:log"} <= names
    assert {r.name for r in ROUTES if r.is_public and not r.is_api} == PUBLIC
    assert PUBLIC_API <= {r.name for r in ROUTES if r.is_api}
    assert OWN_ACCOUNT <= names, sorted(OWN_ACCOUNT - names)


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_is_sent_to_login_on_every_non_public_url(client, county, method):
    login = reverse("accounts:login")
    wrong = []
    for route in ROUTES:
        if route.name in PUBLIC | PUBLIC_API:
            continue
        before = dbstate.read()
        response = getattr(client, method)(route.url())
        if written := dbstate.changes(before, dbstate.read()):
            wrong.append((route.name, route.url(), response.status_code, "wrote", written))
        if route.is_api:
            # 405: the operation takes the other method (tested in the other run)
            ok = response.status_code in (401, 405)
        else:
            ok = response.status_code == 302 and response["Location"].startswith(login)
        if not ok:
            wrong.append((route.name, route.url(), response.status_code))
    assert wrong == [], "\n".join(map(str, wrong))


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_user_without_a_role_is_refused_everywhere_but_their_own_pages(client, county, method):
    nobody = make_user("nobody")
    wrong = []
    for route in ROUTES:
        if route.name in PUBLIC | PUBLIC_API:
            continue
        client.force_login(nobody)  # logout among the routes ends the session
        before = dbstate.read()
        response = getattr(client, method)(route.url())
        status = response.status_code
        if route.name in OWN_ACCOUNT:
            if status >= 500 or _shows_data(response):
                wrong.append((route.name, route.url(), status, "data shown"))
            continue
        if 300 <= status < 400:
            # a form that bounces back (nothing chosen) must land on a refusal, not on data
            landed = client.get(response["Location"])
            if not 400 <= landed.status_code < 500 or _shows_data(landed):
                wrong.append((route.name, route.url(), status, response["Location"]))
        elif not 400 <= status < 500:
            wrong.append((route.name, route.url(), status))
        # a refusal writes nothing (the redirect's landing page included)
        if written := dbstate.changes(before, dbstate.read()):
            wrong.append((route.name, route.url(), status, "wrote", written))
    assert wrong == [], "\n".join(map(str, wrong))


def _shows_data(response) -> bool:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode("utf-8", "replace")
    return any(marker in text for marker in DATA)
