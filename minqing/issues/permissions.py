"""Who may do what to an issue: questions about a user, an issue's place and its unit. Scope
(can see it at all) is ``selectors.issue_scope_q``. The table of steps in ``actions.py`` puts
these questions together, one per step; services and pages ask that table, not these directly."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from minqing.accounts.models import Role
from minqing.accounts.scope import scope_for
from minqing.issues.models import Issue, Level
from minqing.lib.errors import PermissionDenied

#: Roles that find and register problems in the places they cover.
REGISTER_ROLES = frozenset(
    {
        Role.COMMAND_CENTRE,
        Role.TOWN_STAFF,
        Role.VILLAGE_CADRE,
        Role.GRID_WORKER,
        Role.GROUP_LEADER,
        Role.REPRESENTATIVE,
        Role.PARTY_MEMBER,
    }
)
#: The roles that dispatch and supervise at each level of the ladder (and every level below).
SUPERVISOR_ROLES_BY_LEVEL: dict[str, frozenset[str]] = {
    Level.VILLAGE: frozenset({Role.VILLAGE_CADRE, Role.TOWN_STAFF, Role.COMMAND_CENTRE}),
    Level.TOWN: frozenset({Role.TOWN_STAFF, Role.COMMAND_CENTRE}),
    Level.DEPARTMENT: frozenset({Role.COMMAND_CENTRE}),
    Level.COMMITTEE: frozenset({Role.COMMAND_CENTRE}),
    Level.ABOVE: frozenset({Role.COMMAND_CENTRE}),
}
#: Roles that act for a unit of the tree that owns an issue.
UNIT_ROLES = frozenset({Role.VILLAGE_CADRE, Role.TOWN_STAFF, Role.COMMAND_CENTRE})
#: Roles that may close an issue without a satisfied revisit (recorded override).
OVERRIDE_ROLES = frozenset({Role.TOWN_STAFF, Role.COMMAND_CENTRE})


#: Roles that group alike issues of the places they cover into a topic (一类事).
TOPIC_ROLES = frozenset({Role.TOWN_STAFF, Role.COMMAND_CENTRE})


def can_group_at(user: Any, node_path: str) -> bool:
    return scope_for(user).covers_path(node_path, TOPIC_ROLES)


def can_register_at(user: Any, node_path: str) -> bool:
    return scope_for(user).covers_path(node_path, REGISTER_ROLES)


def is_supervisor(user: Any, issue: Issue, level: str | None = None) -> bool:
    """Dispatches, revisits, merges and decides extensions for the issue at its level."""
    roles = SUPERVISOR_ROLES_BY_LEVEL[level or issue.level]
    return scope_for(user).covers_path(issue.node_path, roles)


def is_owner(user: Any, issue: Issue) -> bool:
    """Acts for the unit the issue is dispatched to (accept, work, resolve, return)."""
    scope = scope_for(user)
    if issue.owner_department_id is not None:
        return issue.owner_department_id in scope.department_ids
    owner = issue.owner_node if issue.owner_node_id is not None else None
    if owner is not None:
        return scope.covers_path(owner.path, UNIT_ROLES)
    return False


def can_override_close(user: Any, issue: Issue) -> bool:
    return scope_for(user).covers_path(issue.node_path, OVERRIDE_ROLES)


def called_department_of(user: Any, issue: Issue) -> Any:
    """The user's department called onto ``issue`` (吹哨) that has not reported in yet."""
    ids = scope_for(user).department_ids
    if not ids:
        return None
    call = issue.check_ins.filter(department_id__in=ids, at__isnull=True).first()
    return call.department if call is not None else None


def co_building_unit_of(user: Any, issue: Issue) -> Any:
    """The co-building unit of ``issue``'s county the user works for, if any."""
    from minqing.issues.services.common import county_of
    from minqing.org.models import Department

    ids = scope_for(user).department_ids
    if not ids:
        return None
    return Department.objects.filter(
        pk__in=ids, kind=Department.Kind.CO_BUILDING, county=county_of(issue)
    ).first()


def require(allowed: bool, message: str | None = None) -> None:
    if not allowed:
        raise PermissionDenied(message or _("You may not do this to this issue."))
