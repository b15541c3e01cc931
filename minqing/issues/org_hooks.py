"""The issues' landing pages (首页), offered to the organisation app's home page.

``org`` sits below issues and imports nothing of it: this module registers them with
``org.hooks.register_landing``, and the organisation app imports it at start-up
(``OrgConfig.ready``: every app's ``org_hooks`` module, as the admin finds ``admin`` modules).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from minqing.accounts.models import Role
from minqing.accounts.scope import Scope
from minqing.issues.selectors import county_figures, department_desk
from minqing.org import hooks
from minqing.org.selectors import scope_roots


def county_home(request: HttpRequest, scope: Scope, tree: bool) -> HttpResponse | None:
    """指挥中心 — the county's open, overdue and late issues by town (a first view)."""
    if Role.COMMAND_CENTRE not in scope.roles or tree:
        return None
    return render(
        request,
        "issues/home_county.html",
        {"figures": county_figures(request.user), "roots": scope_roots(request.user)},
    )


def desk_home(request: HttpRequest, scope: Scope, tree: bool) -> HttpResponse | None:
    """A county department's (or co-building unit's) desk: to accept, overdue."""
    if not scope.department_ids:
        return None
    return render(
        request,
        "issues/home_desk.html",
        {"desk": department_desk(request.user), "now": timezone.now()},
    )


hooks.register_landing(county_home, when="first", order=10)
hooks.register_landing(desk_home, when="no_places", order=10)
