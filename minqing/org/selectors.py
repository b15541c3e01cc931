"""Reading the organisation tree."""

from __future__ import annotations

from typing import Any

from minqing.accounts.scope import scope_for
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
