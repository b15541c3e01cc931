"""Reading night visits (民情夜访): a plan's stops and the plans of a place."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Max

from minqing.households.models import Household
from minqing.org.models import Node, subtree_q
from minqing.visits.models import NightVisitPlan, Visit


@dataclass
class StopRow:
    order: int
    household: Household
    reason: str
    visited_at: dt.datetime | None


def plan_stops(plan: NightVisitPlan) -> list[StopRow]:
    """The stops in visiting order, each with the time it was visited on this night visit."""
    visited = dict(
        Visit.objects.filter(night_plan=plan)
        .order_by()
        .values("household_id")
        .annotate(at=Max("visited_at"))
        .values_list("household_id", "at")
    )
    return [
        StopRow(s.order, s.household, s.reason, visited.get(s.household_id))
        for s in plan.stops.select_related("household__node").order_by("order")
    ]


def plans_at(node: Node, limit: int = 50) -> list[NightVisitPlan]:
    """Night visits to the villages of ``node``, the latest first, with stop/visited counts."""
    return list(
        NightVisitPlan.objects.filter(subtree_q(node.path, "village__path"))
        .select_related("village", "leader")
        .annotate(
            stop_count=Count("stops", distinct=True),
            visited_count=Count("visits__household", distinct=True),
        )[:limit]
    )
