"""Template context: which of the top bar's links lead somewhere for this user."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from minqing.accounts.models import Role
from minqing.accounts.scope import scope_for

#: The roles whose people look after households of their own (我的联户): liaisons, and village
#: cadres for their "1+1" families. Only a link to one's own list: what it lists is the links.
CARE_ROLES = frozenset(
    {
        Role.GROUP_LEADER,
        Role.REPRESENTATIVE,
        Role.PARTY_MEMBER,
        Role.GRID_WORKER,
        Role.VILLAGE_CADRE,
    }
)


def _nav(user: Any) -> dict[str, bool]:
    scope = scope_for(user)  # read once per request, as the pages do: no query of its own
    return {
        "my_households": bool(scope.roles & CARE_ROLES),
        # Issues are read in places, in a department's queue or as a co-building unit's orders.
        "issues": bool(
            scope.node_paths or scope.department_ids or Role.CO_BUILDING_UNIT in scope.roles
        ),
        # 四季菜单: the command centre, towns, villages and the departments (its index decides
        # what each may open); group leaders reach their tasks from "my households".
        "menus": bool(
            scope.department_ids
            or scope.roles & {Role.COMMAND_CENTRE, Role.TOWN_STAFF, Role.VILLAGE_CADRE}
        ),
        "audit": scope.is_auditor,
        # 账号与角色管理: the security administrator alone (accounts.views_admin).
        "accounts": Role.SECURITY_ADMIN in scope.roles,
    }


def nav(request: HttpRequest) -> dict[str, Any]:
    """``nav``: computed on first use, nothing for anonymous users."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"nav": SimpleLazyObject(lambda: _nav(user))}
