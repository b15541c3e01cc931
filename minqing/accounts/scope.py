"""Jurisdiction (管辖范围): what a user may see, computed once per request.

Every queryset of scoped data goes through ``visible_to(user)`` on its manager, which asks
``scope_for(user)``. Objects outside it answer 404 exactly like missing ones.

What a user may *do* at a place (reveal, edit archives, see minors) is asked of
``minqing.accounts.permissions.allowed(user, action, place)``: a role grants at its own node
only, so there is deliberately no "has this role anywhere" property here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Q

from minqing.accounts.models import NODE_ROLES, Role
from minqing.org.models import subtree_q


@dataclass(frozen=True)
class Scope:
    """The subtrees and departments a user acts in, and with which roles."""

    roles: frozenset[str] = frozenset()
    #: role → tuple of node paths the role covers
    node_paths_by_role: dict[str, tuple[str, ...]] = field(default_factory=dict)
    department_ids: tuple[int, ...] = ()

    @property
    def node_paths(self) -> tuple[str, ...]:
        paths = sorted({p for ps in self.node_paths_by_role.values() for p in ps})
        # drop paths already covered by a shorter one
        kept: list[str] = []
        for p in paths:
            if not any(p.startswith(k) for k in kept):
                kept.append(p)
        return tuple(kept)

    def paths_for(self, roles: frozenset[str]) -> tuple[str, ...]:
        return tuple(sorted({p for r in roles for p in self.node_paths_by_role.get(r, ())}))

    def node_q(self, path_field: str = "path", roles: frozenset[str] | None = None) -> Q:
        """Q over a node path column; matches nothing when the user has no node scope."""
        paths = self.node_paths if roles is None else self.paths_for(roles)
        if not paths:
            return Q(pk__in=[])
        return reduce(or_, (subtree_q(p, path_field) for p in paths))

    def covers_path(self, path: str, roles: frozenset[str] | None = None) -> bool:
        paths = self.node_paths if roles is None else self.paths_for(roles)
        return any(path.startswith(p) for p in paths)

    def has_any(self, roles: frozenset[str]) -> bool:
        return bool(self.roles & roles)

    @property
    def is_auditor(self) -> bool:
        return Role.AUDITOR in self.roles


EMPTY = Scope()


def scope_for(user: Any) -> Scope:
    """The user's scope, cached on the user object for the request."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return EMPTY
    cached = getattr(user, "_minqing_scope", None)
    if cached is not None:
        return cached
    by_role: dict[str, set[str]] = {}
    departments: set[int] = set()
    roles: set[str] = set()
    for role, path, dept_id in user.roles.values_list("role", "node__path", "department_id"):
        roles.add(role)
        if role in NODE_ROLES and path:
            by_role.setdefault(role, set()).add(path)
        if dept_id:
            departments.add(dept_id)
    scope = Scope(
        roles=frozenset(roles),
        node_paths_by_role={r: tuple(sorted(p)) for r, p in by_role.items()},
        department_ids=tuple(sorted(departments)),
    )
    user._minqing_scope = scope
    return scope
