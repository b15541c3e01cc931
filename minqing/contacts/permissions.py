"""Who may change the contact network of a place, and who sets a county's rules."""

from __future__ import annotations

from django.utils.translation import gettext as _

from minqing.accounts.models import Role, User
from minqing.accounts.scope import scope_for
from minqing.lib.errors import PermissionDenied
from minqing.org.models import Node

#: Who decides who looks after the households of a place (docs/DOMAIN.md: village cadres do the
#: assignment; the town and the command centre above them). Grid workers and the liaisons
#: themselves do not.
MANAGE_ROLES = frozenset({Role.COMMAND_CENTRE, Role.TOWN_STAFF, Role.VILLAGE_CADRE})
#: Who sets a county's assignment and matching rules.
RULE_ROLES = frozenset({Role.COMMAND_CENTRE})


def can_manage(user: User, node: Node) -> bool:
    """May ``user`` add and retire liaisons, hand-set links and run the assignment at ``node``?"""
    return scope_for(user).covers_path(node.path, roles=MANAGE_ROLES)


def require_manage(user: User, node: Node) -> None:
    if not can_manage(user, node):
        raise PermissionDenied(_("Only cadres of this place may change who looks after it."))


def can_edit_rules(user: User, county: Node) -> bool:
    return scope_for(user).covers_path(county.path, roles=RULE_ROLES)
