"""Who may do what, where: every permission is a question about (user, action, place).

Services enforce these questions and pages read the same ones to decide which buttons to show
(``{% allowed "reveal" household as can_reveal %}``); nothing asks "has this role somewhere".
A user holding two roles in two places gets, in each place, exactly what the role *there* gives.

``place`` is a tree node, a node path, or any object that leads to one (a household, a resident,
a village archive, an issue): ``place_path`` finds it.
"""

from __future__ import annotations

from typing import Any

from minqing.accounts.models import ARCHIVE_EDIT_ROLES, MINOR_ROLES, REVEAL_ROLES
from minqing.accounts.scope import scope_for


class Action:
    """The actions on personal data that depend on the place (issue steps: ``issues.actions``)."""

    #: See a personal value in full, after an audited "show"; export unmasked; print cards.
    REVEAL = "reveal"
    #: Create and edit household archives and village archives; import ledgers.
    EDIT_ARCHIVE = "edit_archive"
    #: See records of minors under 14 (SECURITY.md 12).
    SEE_MINORS = "see_minors"


ROLES_FOR: dict[str, frozenset[str]] = {
    Action.REVEAL: REVEAL_ROLES,
    Action.EDIT_ARCHIVE: ARCHIVE_EDIT_ROLES,
    Action.SEE_MINORS: MINOR_ROLES,
}


def place_path(place: Any) -> str | None:
    """The node path ``place`` lies at, or None when it has none."""
    if place is None:
        return None
    if isinstance(place, str):
        return place
    for attr in ("node_path", "stored_path"):
        value = getattr(place, attr, None)
        if isinstance(value, str) and value:
            return value
    path = getattr(place, "path", None)
    if isinstance(path, str) and path:
        return path
    for attr in ("node", "household", "village"):
        inner = getattr(place, attr, None)
        if inner is not None and inner is not place:
            found = place_path(inner)
            if found:
                return found
    return None


def allowed(user: Any, action: str, place: Any) -> bool:
    """May ``user`` take ``action`` at ``place``? Unknown actions and placeless objects: no."""
    roles = ROLES_FOR.get(action)
    path = place_path(place)
    if roles is None or not path:
        return False
    return scope_for(user).covers_path(path, roles=roles)
