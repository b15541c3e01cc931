"""民情夜访 — night visits (太湖县小池镇): an evening session of a 1+2+N team to chosen households,
in a visiting order along a short route; and the monthly neighbourhood service day.

- **Team 1+2+N**: one town leader (``leader``), two duty cadres of the town (``duty``) and at
  least one cadre or grid worker of the village (``team``).
- **Slot**: in the evening (from 17:00, over by 23:00), ending after it starts; about
  ``MINUTES_PER_STOP`` minutes a household, so the slot caps how many households fit.
- **Targets**: households of the village with one of the chosen tags, or with an open problem
  (an issue in ``OPEN_STATES``); the ones with the most open problems first, then the ones
  visited longest ago.
- **Route**: households with coordinates are put in the order of a short open path (OR-Tools
  routing: cheapest-arc start, then greedy local search — deterministic and fast for a few
  dozen stops), starting from whichever end comes first by grid and number; households without
  coordinates follow by grid and number.
- **Service day** (邻里服务日): a plan with ``recurrence = "monthly-first-monday"`` starts a
  series; ``jobs.night_sessions`` makes next month's session on its first Monday (by python's
  ``calendar``), or the next working day when that Monday is a public holiday. A series never
  has two sessions on one day (a unique constraint), so the job may run any number of times.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.models import Role, User
from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_record
from minqing.households.models import HouseholdTag
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied
from minqing.org.models import Level, Node, subtree_q
from minqing.visits.errors import VisitErrorCode
from minqing.visits.models import MONTHLY_FIRST_MONDAY, NightVisitPlan, NightVisitStop
from minqing.visits.services.night_route import Target, pick_targets, visiting_order

EVENING_FROM = dt.time(17, 0)
EVENING_UNTIL = dt.time(23, 0)
MINUTES_PER_STOP = 20
MAX_STOPS = 30
RECURRENCES = ("", MONTHLY_FIRST_MONDAY)
#: Who plans a night visit for a village.
PLAN_ROLES = frozenset({Role.COMMAND_CENTRE, Role.TOWN_STAFF, Role.VILLAGE_CADRE})
#: Who sees the night visits of a place.
VIEW_ROLES = PLAN_ROLES | {Role.GRID_WORKER}
#: The N of 1+2+N: who works in the village.
VILLAGE_ROLES = (Role.VILLAGE_CADRE, Role.GRID_WORKER)


def can_plan(user: Any, village: Node) -> bool:
    from minqing.accounts.scope import scope_for

    return scope_for(user).covers_path(village.path, roles=PLAN_ROLES)


def can_view(user: Any, node: Node) -> bool:
    from minqing.accounts.scope import scope_for

    return scope_for(user).covers_path(node.path, roles=VIEW_ROLES)


def town_of(village: Node) -> Node | None:
    return Node.objects.ancestors_of(village).filter(level=Level.TOWN).first()


# --------------------------------------------------------------------------- the team


@dataclass
class Candidates:
    """Who can be on a village's team: the town's staff (the 1 and the 2), the village's
    cadres and grid workers (the N)."""

    town: Node | None
    town_staff: list[User]
    village: list[User]


def candidates(village: Node) -> Candidates:
    town = town_of(village)
    staff: list[User] = []
    if town is not None:
        staff = list(
            User.objects.filter(
                is_active=True,
                roles__role=Role.TOWN_STAFF,
                roles__node_id__in=[*town.ancestor_ids, town.pk],
            )
            .distinct()
            .order_by("full_name", "username")
        )
    people = list(
        User.objects.filter(
            Q(roles__role__in=VILLAGE_ROLES) & subtree_q(village.path, "roles__node__path"),
            is_active=True,
        )
        .distinct()
        .order_by("full_name", "username")
    )
    return Candidates(town, staff, people)


def check_team(
    village: Node, leader_id: int | None, duty_ids: list[int], team_ids: list[int]
) -> dict[str, ValidationError]:
    """Field → what is missing or wrong in the 1+2+N team (empty when it is complete)."""
    found = candidates(village)
    town_name = found.town.name if found.town else ""
    staff = {u.pk for u in found.town_staff}
    local = {u.pk for u in found.village}
    errors: dict[str, ValidationError] = {}
    duty, team = list(dict.fromkeys(duty_ids)), list(dict.fromkeys(team_ids))
    if leader_id is None:
        errors["leader"] = ValidationError(
            _("Choose the 1: a leader of the town."), code=VisitErrorCode.LEADER_REQUIRED
        )
    elif leader_id not in staff:
        errors["leader"] = ValidationError(
            _("The leader must be on the staff of %(town)s.") % {"town": town_name},
            code=VisitErrorCode.LEADER_NOT_TOWN_STAFF,
        )
    if not duty:
        errors["duty"] = ValidationError(
            _("Choose the 2: two duty cadres of the town."), code=VisitErrorCode.DUTY_COUNT
        )
    elif len(duty) == 1:
        errors["duty"] = ValidationError(
            _("Choose the 2: one more duty cadre of the town is needed."),
            code=VisitErrorCode.DUTY_COUNT,
        )
    elif len(duty) > 2:
        errors["duty"] = ValidationError(
            _("Choose the 2: two duty cadres, not %(n)d.") % {"n": len(duty)},
            code=VisitErrorCode.DUTY_COUNT,
        )
    elif not set(duty) <= staff:
        errors["duty"] = ValidationError(
            _("Duty cadres must be on the staff of %(town)s.") % {"town": town_name},
            code=VisitErrorCode.DUTY_NOT_TOWN_STAFF,
        )
    if not team:
        errors["team"] = ValidationError(
            _("Choose the N: at least one cadre or grid worker of %(village)s.")
            % {"village": village.name},
            code=VisitErrorCode.TEAM_REQUIRED,
        )
    elif not set(team) <= local:
        errors["team"] = ValidationError(
            _("The N must work in %(village)s.") % {"village": village.name},
            code=VisitErrorCode.TEAM_NOT_VILLAGE,
        )
    everyone = [leader_id, *duty, *team]
    if not errors and len(set(everyone)) != len(everyone):
        errors["team"] = ValidationError(
            _("Each person has one place in the team."), code=VisitErrorCode.TEAM_TWICE
        )
    return errors


# --------------------------------------------------------------------------- service day


def service_day(year: int, month: int) -> dt.date:
    """邻里服务日: the month's first Monday, or the next working day if it is a holiday."""
    from minqing.workdays.selectors import work_calendar

    monday = next(
        dt.date(year, month, week[calendar.MONDAY])
        for week in calendar.monthcalendar(year, month)
        if week[calendar.MONDAY]
    )
    day, _cal = work_calendar().estimating(
        lambda cal: monday if cal.is_workday(monday) else cal.next_workday(monday)
    )
    return day


def _next_month(day: dt.date) -> tuple[int, int]:
    return (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)


# --------------------------------------------------------------------------- planning


@dataclass
class NightInput:
    title: str
    on: dt.date | None
    starts: dt.time | None
    ends: dt.time | None
    leader_id: int | None
    duty_ids: list[int] = field(default_factory=list)
    team_ids: list[int] = field(default_factory=list)
    tag_codes: list[str] = field(default_factory=list)
    with_open_issues: bool = True
    max_stops: int = 8
    recurrence: str = ""


def slot_capacity(starts: dt.time, ends: dt.time) -> int:
    minutes = (ends.hour * 60 + ends.minute) - (starts.hour * 60 + starts.minute)
    return max(minutes // MINUTES_PER_STOP, 0)


def check_slot(starts: dt.time | None, ends: dt.time | None) -> dict[str, ValidationError]:
    errors: dict[str, ValidationError] = {}
    if starts is None:
        errors["starts"] = ValidationError(
            _("Give the time the visit starts."), code=VisitErrorCode.TIME_REQUIRED
        )
    elif starts < EVENING_FROM:
        errors["starts"] = ValidationError(
            _("A night visit starts in the evening, from %(t)s.")
            % {"t": EVENING_FROM.strftime("%H:%M")},
            code=VisitErrorCode.NOT_EVENING,
        )
    if ends is None:
        errors["ends"] = ValidationError(
            _("Give the time the visit ends."), code=VisitErrorCode.TIME_REQUIRED
        )
    elif starts is not None and ends <= starts:
        errors["ends"] = ValidationError(
            _("The visit must end after it starts."), code=VisitErrorCode.ENDS_BEFORE_START
        )
    elif ends > EVENING_UNTIL:
        errors["ends"] = ValidationError(
            _("Be done by %(t)s: residents go to bed.") % {"t": EVENING_UNTIL.strftime("%H:%M")},
            code=VisitErrorCode.TOO_LATE,
        )
    elif starts is not None and not errors and slot_capacity(starts, ends) < 1:
        errors["ends"] = ValidationError(
            _("Too short for one visit (about %(n)d minutes each).") % {"n": MINUTES_PER_STOP},
            code=VisitErrorCode.SLOT_TOO_SHORT,
        )
    return errors


def night_plan_create(
    *,
    by: User,
    village: Node,
    data: NightInput,
    context: AuditContext | None = None,
    today: dt.date | None = None,
) -> NightVisitPlan:
    """Plan a night visit for ``village``: team, slot, targets and their visiting order.

    Raises ``PermissionDenied`` (403) for a role that does not plan, ``ValidationError`` with
    every problem of the input at once (nothing written).
    """
    from minqing.lib.text import clean_text

    if not can_plan(by, village):
        raise PermissionDenied(_("Only cadres of this village, its town or the county plan."))
    today = today or timezone.localdate()
    errors: dict[str, ValidationError] = {}
    if village.level != Level.VILLAGE:
        errors["village"] = ValidationError(
            _("A night visit is to one village."), code=VisitErrorCode.NOT_A_VILLAGE
        )
    try:
        title = clean_text(data.title, "title", required=True, max_length=100)
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.error_dict.items()})
    if data.on is None:
        errors["on"] = ValidationError(_("Give the date."), code=VisitErrorCode.DATE_REQUIRED)
    elif data.on < today:
        errors["on"] = ValidationError(
            _("Plan for today or a later day."), code=VisitErrorCode.DATE_PAST
        )
    elif data.recurrence == MONTHLY_FIRST_MONDAY and data.on != service_day(
        data.on.year, data.on.month
    ):
        errors["on"] = ValidationError(
            _("The service day is the month's first Monday (or the next working day): %(day)s.")
            % {"day": service_day(data.on.year, data.on.month).isoformat()},
            code=VisitErrorCode.NOT_SERVICE_DAY,
        )
    if data.recurrence not in RECURRENCES:
        errors["recurrence"] = ValidationError(
            _("Unknown repetition."), code=VisitErrorCode.UNKNOWN_RECURRENCE
        )
    errors.update(check_slot(data.starts, data.ends))
    errors.update(check_team(village, data.leader_id, data.duty_ids, data.team_ids))
    if not 1 <= data.max_stops <= MAX_STOPS:
        errors["max_stops"] = ValidationError(
            _("Between 1 and %(n)d households.") % {"n": MAX_STOPS},
            code=VisitErrorCode.STOPS_OUT_OF_RANGE,
        )
    tags = list(HouseholdTag.objects.filter(code__in=set(data.tag_codes)))
    if len(tags) != len(set(data.tag_codes)):
        errors["targets"] = ValidationError(_("Unknown tag."), code=VisitErrorCode.UNKNOWN_TAG)
    elif not tags and not data.with_open_issues:
        errors["targets"] = ValidationError(
            _("Choose households by tag, by open problems, or both."),
            code=VisitErrorCode.TARGETS_REQUIRED,
        )
    targets: list[Target] = []
    if not errors:
        assert data.starts is not None and data.ends is not None  # checked by check_slot
        cap = min(data.max_stops, slot_capacity(data.starts, data.ends))
        targets = pick_targets(village, data.tag_codes, data.with_open_issues, cap)
        if not targets:
            errors["targets"] = ValidationError(
                _("No household of %(village)s has these tags or open problems.")
                % {"village": village.name},
                code=VisitErrorCode.NO_TARGETS,
            )
    if errors:
        raise ValidationError(errors)
    # checked above: the date, slot and leader are given, and a leader is of the village's town
    assert data.on and data.starts and data.ends and data.leader_id is not None
    town = town_of(village)
    assert town is not None
    with transaction.atomic():
        plan = NightVisitPlan.objects.create(
            town=town,
            village=village,
            title=title,
            on=data.on,
            starts=data.starts,
            ends=data.ends,
            leader_id=data.leader_id,
            recurrence=data.recurrence,
            with_open_issues=data.with_open_issues,
            max_stops=data.max_stops,
            created_by=by,
        )
        if plan.recurrence:
            plan.series = plan
            plan.save(update_fields=["series"])
        plan.duty.set(data.duty_ids)
        plan.team.set(data.team_ids)
        plan.target_tags.set(tags)
        _stops(plan, targets)
        audit_record(
            action=AuditAction.VISITS_NIGHT_PLAN,
            user=by,
            context=context,
            obj=plan,
            detail={"village": village.pk, "on": plan.on.isoformat(), "stops": len(targets)},
        )
        _notify_team(plan, exclude=by)
    return plan


def _stops(plan: NightVisitPlan, targets: list[Target]) -> None:
    by_household = {t.household.pk: t for t in targets}
    ordered = visiting_order([t.household for t in targets])
    NightVisitStop.objects.bulk_create(
        [
            NightVisitStop(plan=plan, household=h, order=i, reason=by_household[h.pk].reason)
            for i, h in enumerate(ordered, start=1)
        ]
    )


def _notify_team(plan: NightVisitPlan, exclude: Any = None) -> None:
    from minqing.notifications.services import notify

    people = [plan.leader, *plan.duty.all(), *plan.team.all()]
    notify(
        recipients=[u for u in people if exclude is None or u.pk != exclude.pk],
        kind="visits.night_plan",
        title=_("Night visit %(title)s: %(day)s %(from)s–%(until)s")
        % {
            "title": plan.title,
            "day": plan.on.isoformat(),
            "from": plan.starts.strftime("%H:%M"),
            "until": plan.ends.strftime("%H:%M"),
        },
        link=reverse("visits:night_detail", args=[plan.pk]),
        obj=plan,
    )


def session_next(template: NightVisitPlan, today: dt.date) -> NightVisitPlan | None:
    """Next month's session of a service-day series, unless it exists (or is not after the
    series' first session). Safe to call from several workers at once."""
    day = service_day(*_next_month(today))
    if day <= template.on or NightVisitPlan.objects.filter(series=template, on=day).exists():
        return None
    tags = list(template.target_tags.all())
    cap = min(template.max_stops, slot_capacity(template.starts, template.ends))
    targets = pick_targets(template.village, [t.code for t in tags], template.with_open_issues, cap)
    try:
        with transaction.atomic():
            plan = NightVisitPlan.objects.create(
                town=template.town,
                village=template.village,
                title=template.title,
                on=day,
                starts=template.starts,
                ends=template.ends,
                leader=template.leader,
                series=template,
                with_open_issues=template.with_open_issues,
                max_stops=template.max_stops,
                created_by=template.created_by,
            )
            plan.duty.set(template.duty.all())
            plan.team.set(template.team.all())
            plan.target_tags.set(tags)
            _stops(plan, targets)
            audit_record(
                action=AuditAction.VISITS_NIGHT_SESSION,
                obj=plan,
                detail={"series": template.pk, "on": day.isoformat(), "stops": len(targets)},
            )
            _notify_team(plan)
    except IntegrityError:  # another worker made it a moment ago
        return None
    return plan
