"""Reading the organisation tree."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from minqing.accounts.scope import scope_for
from minqing.org.errors import OrgErrorCode
from minqing.org.models import Level, Node, NodeQuerySet


def nodes_visible_to(user: Any) -> NodeQuerySet:
    """Nodes inside the user's scope (their subtrees)."""
    return Node.objects.filter(scope_for(user).node_q("path"))


def scope_roots(user: Any) -> list[Node]:
    """The top nodes of the user's scope, for the home page."""
    paths = scope_for(user).node_paths
    return list(Node.objects.filter(path__in=paths).order_by("path"))


def breadcrumbs(node: Node, user: Any) -> list[Node]:
    """Ancestors the user may open, then the node."""
    scope = scope_for(user)
    ancestors = Node.objects.ancestors_of(node, include_self=True)
    return [n for n in ancestors if scope.covers_path(n.path)]


def children_of(node: Node) -> list[Node]:
    return list(node.children.order_by("sort_key", "name"))


def village_of(node: Node) -> Node | None:
    """The village/community at or above ``node``."""
    if node.level == Level.VILLAGE:
        return node
    return Node.objects.ancestors_of(node).filter(level=Level.VILLAGE).first()


def county_on_path(path: str) -> Node | None:
    """The county among the nodes of a materialised path ("/1/7/42/"), or ``None`` outside any
    county: one query by primary key (the cheap form for hot paths that hold a path)."""
    return Node.objects.county_on_path(path)


def county_of(node: Node) -> Node:
    """The county at or above ``node`` (the node itself when it is one); a place outside any
    county is refused (``org.not_in_county``)."""
    if node.level == Level.COUNTY:
        return node
    county = county_on_path(node.path)
    if county is None:
        raise ValidationError(
            _("This place is not inside a county."), code=OrgErrorCode.NOT_IN_COUNTY
        )
    return county
