"""Who may change the contact network of a place, and where a place belongs."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from minqing.accounts.models import Role
from minqing.lib.errors import PermissionDenied
from minqing.org.models import Level, Node
from minqing.org.selectors import village_of as org_village_of

#: Who decides who looks after the households of a place (DOMAIN: village cadres do the
#: assignment; the town and the command centre above them). Grid workers and the liaisons
#: themselves do not.
MANAGE_ROLES = frozenset({Role.COMMAND_CENTRE, Role.TOWN_STAFF, Role.VILLAGE_CADRE})
#: Who sets a county's assignment and matching rules.
RULE_ROLES = frozenset({Role.COMMAND_CENTRE})


def can_manage(user: Any, node: Node) -> bool:
    """May ``user`` add and retire liaisons, hand-set links and run the assignment at ``node``?"""
    from minqing.accounts.scope import scope_for

    return scope_for(user).covers_path(node.path, roles=MANAGE_ROLES)


def require_manage(user: Any, node: Node) -> None:
    if not can_manage(user, node):
        raise PermissionDenied(_("Only cadres of this place may change who looks after it."))


def can_edit_rules(user: Any, county: Node) -> bool:
    from minqing.accounts.scope import scope_for

    return scope_for(user).covers_path(county.path, roles=RULE_ROLES)


def county_of(node: Node) -> Node:
    if node.level == Level.COUNTY:
        return node
    county = Node.objects.county_on_path(node.path)
    if county is None:
        raise ValidationError(_("This place is not inside a county."))
    return county


def village_of(node: Node) -> Node:
    """The village at or above ``node``; a place above the villages is refused."""
    village = org_village_of(node)
    if village is None:
        raise ValidationError(_("Choose a village, town or county."))
    return village
