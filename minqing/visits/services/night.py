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
import math
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, IntegerField, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.models import Role, User
from minqing.audit.services import audit_record
from minqing.households.models import Household, HouseholdTag
from minqing.issues.models import OPEN_STATES, Issue
from minqing.lib.errors import PermissionDenied
from minqing.org.models import Level, Node, subtree_q
from minqing.visits.models import MONTHLY_FIRST_MONDAY, NightVisitPlan, NightVisitStop, Visit

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
) -> dict[str, str]:
    """Field → what is missing or wrong in the 1+2+N team (empty when it is complete)."""
    found = candidates(village)
    town_name = found.town.name if found.town else ""
    staff = {u.pk for u in found.town_staff}
    local = {u.pk for u in found.village}
    errors: dict[str, str] = {}
    duty, team = list(dict.fromkeys(duty_ids)), list(dict.fromkeys(team_ids))
    if leader_id is None:
        errors["leader"] = _("Choose the 1: a leader of the town.")
    elif leader_id not in staff:
        errors["leader"] = _("The leader must be on the staff of %(town)s.") % {"town": town_name}
    if not duty:
        errors["duty"] = _("Choose the 2: two duty cadres of the town.")
    elif len(duty) == 1:
        errors["duty"] = _("Choose the 2: one more duty cadre of the town is needed.")
    elif len(duty) > 2:
        errors["duty"] = _("Choose the 2: two duty cadres, not %(n)d.") % {"n": len(duty)}
    elif not set(duty) <= staff:
        errors["duty"] = _("Duty cadres must be on the staff of %(town)s.") % {"town": town_name}
    if not team:
        errors["team"] = _("Choose the N: at least one cadre or grid worker of %(village)s.") % {
            "village": village.name
        }
    elif not set(team) <= local:
        errors["team"] = _("The N must work in %(village)s.") % {"village": village.name}
    everyone = [leader_id, *duty, *team]
    if not errors and len(set(everyone)) != len(everyone):
        errors["team"] = _("Each person has one place in the team.")
    return errors


# --------------------------------------------------------------------------- targets and route


@dataclass
class Target:
    household: Household
    open_issues: int
    reason: str


def pick_targets(
    village: Node, tag_codes: list[str], with_open_issues: bool, cap: int
) -> list[Target]:
    """Up to ``cap`` households of the village with one of the tags or an open problem: the
    most open problems first, then the ones visited longest ago (never visited first)."""
    if cap < 1 or not (tag_codes or with_open_issues):
        return []
    wanted = Q(pk__in=[])
    if tag_codes:
        wanted |= Q(
            pk__in=Household.tags.through.objects.filter(householdtag__code__in=tag_codes).values(
                "household_id"
            )
        )
    if with_open_issues:
        wanted |= Q(
            pk__in=Issue.objects.filter(
                village=village, status__in=OPEN_STATES, household__isnull=False
            ).values("household_id")
        )
    open_count = (
        Issue.objects.filter(household=OuterRef("pk"), status__in=OPEN_STATES)
        .order_by()
        .values("household")
        .annotate(n=Count("pk"))
        .values("n")
    )
    last_visit = Visit.objects.filter(household=OuterRef("pk")).order_by("-visited_at")
    households = list(
        Household.objects.filter(village=village)
        .filter(wanted)
        .annotate(
            open_issues=Coalesce(Subquery(open_count, output_field=IntegerField()), 0),
            last_visit=Subquery(last_visit.values("visited_at")[:1]),
        )
        .select_related("node")
        .prefetch_related(
            Prefetch("tags", queryset=HouseholdTag.objects.filter(code__in=tag_codes))
        )
        .order_by(
            F("open_issues").desc(), F("last_visit").asc(nulls_first=True), "node__path", "number"
        )[:cap]
    )
    targets = []
    for h in households:
        why = [t.name for t in h.tags.all()]
        if h.open_issues:
            why.insert(0, _("%(n)d open problems") % {"n": h.open_issues})
        targets.append(Target(h, h.open_issues, " · ".join(why)[:100]))
    return targets


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


def _open_path(points: list[tuple[float, float]]) -> list[int]:
    """Indices of ``points`` in the order of a short path through all of them (free ends)."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    n = len(points)
    # Node n is a free depot, nothing away from every point: the path may start and end anywhere.
    matrix = [[0] * (n + 1) for _ in range(n + 1)]
    for i in range(n):
        for j in range(n):
            if i != j:
                matrix[i][j] = round(_metres(points[i], points[j]))
    manager = pywrapcp.RoutingIndexManager(n + 1, 1, n)
    routing = pywrapcp.RoutingModel(manager)
    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitMatrix(matrix))
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
    solution = routing.SolveWithParameters(params)
    if solution is None:  # cannot happen without constraints; keep the given order
        return list(range(n))
    order = []
    index = solution.Value(routing.NextVar(routing.Start(0)))
    while not routing.IsEnd(index):
        order.append(manager.IndexToNode(index))
        index = solution.Value(routing.NextVar(index))
    return order


def visiting_order(households: list[Household]) -> list[Household]:
    """Households with coordinates along a short path, then the others by grid and number."""

    def key(h: Household) -> tuple:
        return (h.node.path, h.number)

    located = [h for h in households if h.latitude is not None and h.longitude is not None]
    others = sorted((h for h in households if h not in located), key=key)
    if len(located) > 2:
        path = _open_path([(float(h.latitude), float(h.longitude)) for h in located])
        located = [located[i] for i in path]
        if key(located[-1]) < key(located[0]):
            located.reverse()
    else:
        located.sort(key=key)
    return located + others


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


def check_slot(starts: dt.time | None, ends: dt.time | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    if starts is None:
        errors["starts"] = _("Give the time the visit starts.")
    elif starts < EVENING_FROM:
        errors["starts"] = _("A night visit starts in the evening, from %(t)s.") % {
            "t": EVENING_FROM.strftime("%H:%M")
        }
    if ends is None:
        errors["ends"] = _("Give the time the visit ends.")
    elif starts is not None and ends <= starts:
        errors["ends"] = _("The visit must end after it starts.")
    elif ends > EVENING_UNTIL:
        errors["ends"] = _("Be done by %(t)s: residents go to bed.") % {
            "t": EVENING_UNTIL.strftime("%H:%M")
        }
    elif starts is not None and not errors and slot_capacity(starts, ends) < 1:
        errors["ends"] = _("Too short for one visit (about %(n)d minutes each).") % {
            "n": MINUTES_PER_STOP
        }
    return errors


def night_plan_create(
    *,
    by: Any,
    village: Node,
    data: NightInput,
    request: Any = None,
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
    errors: dict[str, str] = {}
    if village.level != Level.VILLAGE:
        errors["village"] = _("A night visit is to one village.")
    try:
        title = clean_text(data.title, "title", required=True, max_length=100)
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
    if data.on is None:
        errors["on"] = _("Give the date.")
    elif data.on < today:
        errors["on"] = _("Plan for today or a later day.")
    elif data.recurrence == MONTHLY_FIRST_MONDAY and data.on != service_day(
        data.on.year, data.on.month
    ):
        errors["on"] = _(
            "The service day is the month's first Monday (or the next working day): %(day)s."
        ) % {"day": service_day(data.on.year, data.on.month).isoformat()}
    if data.recurrence not in RECURRENCES:
        errors["recurrence"] = _("Unknown repetition.")
    errors.update(check_slot(data.starts, data.ends))
    errors.update(check_team(village, data.leader_id, data.duty_ids, data.team_ids))
    if not 1 <= data.max_stops <= MAX_STOPS:
        errors["max_stops"] = _("Between 1 and %(n)d households.") % {"n": MAX_STOPS}
    tags = list(HouseholdTag.objects.filter(code__in=set(data.tag_codes)))
    if len(tags) != len(set(data.tag_codes)):
        errors["targets"] = _("Unknown tag.")
    elif not tags and not data.with_open_issues:
        errors["targets"] = _("Choose households by tag, by open problems, or both.")
    targets: list[Target] = []
    if not errors:
        assert data.starts is not None and data.ends is not None
        cap = min(data.max_stops, slot_capacity(data.starts, data.ends))
        targets = pick_targets(village, data.tag_codes, data.with_open_issues, cap)
        if not targets:
            errors["targets"] = _(
                "No household of %(village)s has these tags or open problems."
            ) % {"village": village.name}
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        plan = NightVisitPlan.objects.create(
            town=town_of(village),
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
            action="visits.night_plan",
            user=by,
            request=request,
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
                action="visits.night_session",
                obj=plan,
                detail={"series": template.pk, "on": day.isoformat(), "stops": len(targets)},
            )
            _notify_team(plan)
    except IntegrityError:  # another worker made it a moment ago
        return None
    return plan
