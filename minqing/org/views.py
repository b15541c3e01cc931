"""Tree browser: the user's part of the organisation tree with rolled-up counts."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from minqing.accounts.models import Role
from minqing.accounts.scope import scope_for
from minqing.org import hooks
from minqing.org.models import Level, Node
from minqing.org.selectors import (
    breadcrumbs,
    children_of,
    nodes_visible_to,
    scope_roots,
    village_of,
)


def scoped_node(request: HttpRequest, pk: int) -> Node:
    """A node inside the user's scope, or 404 exactly as if it did not exist."""
    return get_object_or_404(nodes_visible_to(request.user), pk=pk)


def home(request: HttpRequest) -> HttpResponse:
    """The landing page by role (首页): the auditor's log; then what the apps above register
    (``hooks.register_landing``: the command centre's county figures, a liaison's households,
    a department's desk); else the tree of the user's places."""
    scope = scope_for(request.user)
    tree = request.GET.get("tree") == "1"
    if scope.is_auditor:
        return redirect("audit:log")
    if (response := hooks.landing_for(request, scope, tree, when="first")) is not None:
        return response
    roots = scope_roots(request.user)
    if not roots and (response := hooks.landing_for(request, scope, tree, when="no_places")):
        return response
    if len(roots) == 1:
        return redirect("org:node", pk=roots[0].pk)
    return render(
        request,
        "org/home.html",
        {
            "roots": roots,
            "scope": scope,
            "role_labels": sorted(str(Role(r).label) for r in scope.roles),
        },
    )


def node_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Any node: its children with counts; a village or grid also lists its households (the
    households app's tags in the template)."""
    node = scoped_node(request, pk)
    village = village_of(node) if node.level in (Level.VILLAGE, Level.AREA, Level.GRID) else None
    context: dict = {
        "node": node,
        "crumbs": breadcrumbs(node, request.user)[:-1],
        "children": children_of(node),
        "village": village,
        "scope": scope_for(request.user),
    }
    return render(request, "org/node.html", context)
