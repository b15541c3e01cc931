"""Who may do what with the quarterly menu: each a question about (user, action, place).

The place of a checklist is its department; of a menu, its county; of a campaign's progress, a
node of the tree; of a task, its household. Services enforce these; pages read the same
functions to decide which buttons to show.

================  ==============================================================  ==========
action            who                                                             place
================  ==============================================================  ==========
EDIT_CHECKLIST    the department's staff; the county's command centre             department
COMPOSE           the county's organisation department / command centre           county
RUN_CAMPAIGN      the command centre over the scope                               node
SEE_PROGRESS      any role of the tree over the node                              node
BACKCHECK         town staff and the command centre over the town                 town
ANSWER            the task's visitor; village cadres, grid workers and town       task
                  staff over the household (they type paper forms in)
SEE_RESULTS       the department's staff (its own questions); the command centre  department
================  ==============================================================  ==========
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from minqing.accounts.models import NODE_ROLES, Role
from minqing.accounts.scope import scope_for
from minqing.lib.errors import PermissionDenied
from minqing.org.models import Department, Node


class MenuAction:
    EDIT_CHECKLIST = "menus.edit_checklist"
    COMPOSE = "menus.compose"
    RUN_CAMPAIGN = "menus.run_campaign"
    SEE_PROGRESS = "menus.see_progress"
    BACKCHECK = "menus.backcheck"
    ANSWER = "menus.answer"
    SEE_RESULTS = "menus.see_results"


COMPOSE_ROLES = frozenset({Role.COMMAND_CENTRE})
BACKCHECK_ROLES = frozenset({Role.COMMAND_CENTRE, Role.TOWN_STAFF})
#: who may record a task's answers without being its visitor (paper forms typed in later)
ENTRY_ROLES = frozenset({Role.TOWN_STAFF, Role.VILLAGE_CADRE, Role.GRID_WORKER})

DENIED: dict[str, Any] = {
    MenuAction.EDIT_CHECKLIST: _("Only this department's staff may change its checklist."),
    MenuAction.COMPOSE: _("Only the county's organisation department composes the menu."),
    MenuAction.RUN_CAMPAIGN: _("Only the command centre may start a campaign here."),
    MenuAction.SEE_PROGRESS: _("Your role may not see this place."),
    MenuAction.BACKCHECK: _("Only town staff may draw and call back-check samples."),
    MenuAction.ANSWER: _("This household is not one of yours in this campaign."),
    MenuAction.SEE_RESULTS: _("Only this department and the command centre see its results."),
}


def _department_county_path(department: Department) -> str:
    path = getattr(department, "_county_path", None)
    if path is None:
        path = Node.objects.filter(pk=department.county_id).values_list("path", flat=True)[0]
        department._county_path = path  # type: ignore[attr-defined]
    return str(path)


def _staff_departments(user: Any) -> frozenset[int]:
    """The departments ``user`` works for as department staff (not as a co-building unit)."""
    cached = getattr(user, "_minqing_staff_departments", None)
    if cached is None:
        cached = frozenset(
            user.roles.filter(role=Role.DEPARTMENT, department__isnull=False).values_list(
                "department_id", flat=True
            )
        )
        user._minqing_staff_departments = cached
    return cached


def allowed(user: Any, action: str, place: Any) -> bool:
    """May ``user`` take ``action`` at ``place``? Anything unknown: no."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    scope = scope_for(user)
    if action in (MenuAction.EDIT_CHECKLIST, MenuAction.SEE_RESULTS):
        if not isinstance(place, Department):
            return False
        if place.pk in _staff_departments(user):
            return True
        return scope.covers_path(_department_county_path(place), roles=COMPOSE_ROLES)
    if action == MenuAction.ANSWER:
        # place: a Task
        if getattr(place, "assignee_id", None) == user.pk:
            return True
        path = getattr(place, "node_path", "")
        return bool(path) and scope.covers_path(path, roles=ENTRY_ROLES | COMPOSE_ROLES)
    path = place.path if isinstance(place, Node) else str(place or "")
    if not path:
        return False
    if action in (MenuAction.COMPOSE, MenuAction.RUN_CAMPAIGN):
        return scope.covers_path(path, roles=COMPOSE_ROLES)
    if action == MenuAction.SEE_PROGRESS:
        return scope.covers_path(path, roles=NODE_ROLES)
    if action == MenuAction.BACKCHECK:
        return scope.covers_path(path, roles=BACKCHECK_ROLES)
    return False


def in_jurisdiction(user: Any, path: str) -> bool:
    """Is the place at ``path`` the user's at all — one of their places, inside or above one,
    or in the county of a department they work for? A page about a place outside answers 404
    exactly like a missing one (SECURITY §7); inside, a refusal says why (403)."""
    if not path or user is None or not getattr(user, "is_authenticated", False):
        return False
    scope = scope_for(user)
    mine = list(scope.node_paths)
    if scope.department_ids:
        cached = getattr(user, "_minqing_department_counties", None)
        if cached is None:
            cached = tuple(
                Node.objects.filter(departments__pk__in=scope.department_ids)
                .values_list("path", flat=True)
                .distinct()
            )
            user._minqing_department_counties = cached
        mine += cached
    return any(path.startswith(p) or p.startswith(path) for p in mine)


def require(user: Any, action: str, place: Any) -> None:
    if not allowed(user, action, place):
        raise PermissionDenied(DENIED[action])


def departments_for(user: Any, county: Node | None = None) -> list[Department]:
    """The departments whose checklists and results ``user`` may open (in ``county``)."""
    qs = Department.objects.filter(kind=Department.Kind.DEPARTMENT)
    if county is not None:
        qs = qs.filter(county=county)
    return [d for d in qs.order_by("name") if allowed(user, MenuAction.EDIT_CHECKLIST, d)]
