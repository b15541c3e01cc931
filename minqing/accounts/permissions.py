"""Who may do what, where: every permission is a question about (user, action, place).

Services enforce these questions and pages read the same ones to decide which buttons to show
(``{% allowed "reveal" household as can_reveal %}``, ``minqing.accounts.templatetags.perms``);
nothing asks "has this role somewhere". A user holding two roles in two places gets, in each
place, exactly what the role *there* gives: a role grants an action at its node and below.

``place`` is a tree node, a node path, or any object that leads to one (a household, a resident,
a village archive, an issue, a ledger import): ``place_path`` finds it.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from minqing.accounts.models import (
    ARCHIVE_EDIT_ROLES,
    MINOR_ROLES,
    NODE_ROLES,
    REVEAL_ROLES,
    SEPARATED_ROLES,
)
from minqing.accounts.scope import scope_for
from minqing.lib.errors import PermissionDenied
from minqing.org.models import Level, Node


class Action:
    """The actions on personal data that depend on the place (issue steps: ``issues.actions``)."""

    #: Read the records at a place at all (its households, residents, archives), masked.
    VIEW = "view"
    #: See a personal value in full, after an audited "show"; export unmasked; print cards.
    REVEAL = "reveal"
    #: Create and edit household archives and village archives; import ledgers.
    EDIT_ARCHIVE = "edit_archive"
    #: See records of minors under 14 (docs/SECURITY-BAR.md §12).
    SEE_MINORS = "see_minors"


ROLES_FOR: dict[str, frozenset[str]] = {
    Action.VIEW: NODE_ROLES,
    Action.REVEAL: REVEAL_ROLES,
    Action.EDIT_ARCHIVE: ARCHIVE_EDIT_ROLES,
    Action.SEE_MINORS: MINOR_ROLES,
}

#: What a refused user is told (403); out of the VIEW scope is a 404 instead, like missing.
DENIED: dict[str, Any] = {
    Action.VIEW: _("Your role may not do this here."),
    Action.REVEAL: _("Your role may not see full personal data."),
    Action.EDIT_ARCHIVE: _("Your role may not edit household archives."),
    Action.SEE_MINORS: _("Records of children under 14 need the minors permission."),
}


def place_path(place: Any) -> str | None:
    """The node path ``place`` lies at, or None when it has none.

    A node answers its ``path``; a record with a denormalised ``node_path`` answers that; any
    other object is followed through ``household``, ``node`` or ``village`` (a resident lies
    where its household lies, not where its village does: a group or grid may be the place).
    """
    if place is None:
        return None
    if isinstance(place, str):
        return place or None
    value = getattr(place, "node_path", None)
    if isinstance(value, str) and value:
        return value
    if isinstance(place, Node):
        return place.path or None
    for attr in ("household", "node", "village"):
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


def require(user: Any, action: str, place: Any) -> None:
    """Raise ``PermissionDenied`` (403) unless ``allowed``; callers have already answered 404
    for places outside the user's scope."""
    if not allowed(user, action, place):
        raise PermissionDenied(DENIED[action])


def minors_visible(user: Any, resident: Any) -> bool:
    """May ``user`` see this resident in full? Adults: yes; a minor under 14: only with the
    minors permission where the resident's household lies."""
    return not resident.is_minor or allowed(user, Action.SEE_MINORS, resident)


def refusal(request: Any, action: str, place: Any) -> Any:
    """For views: None when ``request.user`` may take ``action`` at ``place``, else the 403 page
    saying why (``if (page := refusal(request, Action.X, obj)): return page``)."""
    if allowed(request.user, action, place):
        return None
    from minqing.lib.views import forbidden

    return forbidden(request, DENIED[action])


def covers_every_county(user: Any, roles: frozenset[str]) -> bool:
    """For the settings every county of this installation shares today (issue categories and
    deadline rules, the working-day calendar): the user must hold one of ``roles`` over every
    county, so a command centre of one county cannot change another's. A system-wide role
    (the system admin, scoped to no place) covers them all when it is among ``roles``."""
    scope = scope_for(user)
    if scope.roles & roles & SEPARATED_ROLES:
        return True
    if not scope.paths_for(roles):
        return False
    # Asked by a page and its service in one request: the counties are read once per user.
    paths = getattr(user, "_minqing_county_paths", None)
    if paths is None:
        paths = list(Node.objects.filter(level=Level.COUNTY).values_list("path", flat=True))
        user._minqing_county_paths = paths
    return bool(paths) and all(scope.covers_path(p, roles=roles) for p in paths)
