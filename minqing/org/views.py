"""Tree browser: the user's part of the organisation tree with rolled-up counts."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from minqing.accounts.models import Role
from minqing.accounts.scope import scope_for
from minqing.households.models import HouseholdTag, VillageArchive
from minqing.households.selectors import village_households
from minqing.org.models import Level, Node
from minqing.org.selectors import (
    breadcrumbs,
    children_of,
    nodes_visible_to,
    scope_roots,
    village_of,
)

PAGE_SIZE = 50


def scoped_node(request: HttpRequest, pk: int) -> Node:
    """A node inside the user's scope, or 404 exactly as if it did not exist."""
    return get_object_or_404(nodes_visible_to(request.user), pk=pk)


#: People whose work is their households: their home page is "my households".
FIELD_ROLES = frozenset(
    {Role.GROUP_LEADER, Role.REPRESENTATIVE, Role.PARTY_MEMBER, Role.GRID_WORKER}
)


#: Roles whose work is the issues sent to their unit: their home page is the unit's desk.
DESK_ROLES = frozenset({Role.DEPARTMENT, Role.CO_BUILDING_UNIT})


def home(request: HttpRequest) -> HttpResponse:
    """The landing page by role (首页): the auditor's log, the command centre's county figures,
    a department's desk, a group leader's households, else the tree of the user's places."""
    from minqing.contacts.models import Liaison

    scope = scope_for(request.user)
    tree = request.GET.get("tree") == "1"
    if scope.is_auditor:
        return redirect("audit:log")
    if Role.COMMAND_CENTRE in scope.roles and not tree:
        return _county_home(request)
    if (
        scope.roles
        and scope.roles <= FIELD_ROLES
        and not tree
        and Liaison.objects.filter(user=request.user, active=True).exists()
    ):
        return redirect("visits:mine")
    roots = scope_roots(request.user)
    if not roots and scope.department_ids:
        return _desk_home(request)
    if len(roots) == 1:
        return redirect("org:node", pk=roots[0].pk)
    from minqing.issues.services.settings import can_edit_settings

    return render(
        request,
        "org/home.html",
        {
            "roots": roots,
            "scope": scope,
            "role_labels": sorted(str(Role(r).label) for r in scope.roles),
            "can_edit_settings": can_edit_settings(request.user),
        },
    )


def _county_home(request: HttpRequest) -> HttpResponse:
    """指挥中心 — the county's open, overdue and late issues by town (a first view)."""
    from minqing.issues.selectors import county_figures

    figures = county_figures(request.user)
    return render(
        request,
        "org/home_county.html",
        {"figures": figures, "roots": scope_roots(request.user)},
    )


def _desk_home(request: HttpRequest) -> HttpResponse:
    """A county department's (or co-building unit's) desk: to accept, overdue."""
    from django.utils import timezone

    from minqing.issues.selectors import department_desk

    return render(
        request,
        "org/home_desk.html",
        {"desk": department_desk(request.user), "now": timezone.now()},
    )


def node_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Any node: its children with counts; a village or grid also lists its households."""
    node = scoped_node(request, pk)
    village = village_of(node) if node.level in (Level.VILLAGE, Level.AREA, Level.GRID) else None
    context: dict = {
        "node": node,
        "crumbs": breadcrumbs(node, request.user)[:-1],
        "children": children_of(node),
        "village": village,
        "scope": scope_for(request.user),
    }
    if village is not None:
        tag = request.GET.get("tag", "")
        page = Paginator(village_households(village, node=node, tag=tag), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        context.update(
            {
                "page": page,
                "tag": tag,
                "tags": HouseholdTag.objects.all(),
                "archive": VillageArchive.objects.filter(village=village).first()
                if node.pk == village.pk
                else None,
            }
        )
    return render(request, "org/node.html", context)
