"""A night visit's households (民情夜访): which households of the village to visit (tags, open
problems; the most open problems first, then the ones visited longest ago) and in which order
along a short open path (OR-Tools routing)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.db.models import Count, F, IntegerField, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from minqing.households.models import Household, HouseholdTag
from minqing.issues.models import OPEN_STATES, Issue
from minqing.org.models import Node
from minqing.visits.models import Visit


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
        path = _open_path([(float(h.latitude or 0), float(h.longitude or 0)) for h in located])
        located = [located[i] for i in path]
        if key(located[-1]) < key(located[0]):
            located.reverse()
    else:
        located.sort(key=key)
    return located + others
