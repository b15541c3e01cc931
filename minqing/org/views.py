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


def home(request: HttpRequest) -> HttpResponse:
    from minqing.contacts.models import Liaison

    scope = scope_for(request.user)
    if (
        scope.roles
        and scope.roles <= FIELD_ROLES
        and request.GET.get("tree") != "1"
        and Liaison.objects.filter(user=request.user, active=True).exists()
    ):
        return redirect("visits:mine")
    roots = scope_roots(request.user)
    if len(roots) == 1:
        return redirect("org:node", pk=roots[0].pk)
    return render(request, "org/home.html", {"roots": roots, "scope": scope_for(request.user)})


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
