"""Reading household events and holiday campaigns (三必报、四必到, 节日走访)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q

from minqing.households.models import Household
from minqing.org.models import Node
from minqing.visits.models import VisitCampaign


def household_events(household: Household, limit: int = 5) -> dict[str, Any]:
    """The household page's section: recent events and open must-visit tasks."""
    return {
        "events": list(household.life_events.select_related("recorded_by")[:limit]),
        "tasks": list(household.visit_tasks.filter(done_at__isnull=True).order_by("due_on")),
    }


def campaigns_of(village: Node, limit: int = 20) -> list[VisitCampaign]:
    """The village's campaigns, newest first, with ``total`` and ``done`` task counts."""
    return list(
        VisitCampaign.objects.filter(village=village)
        .annotate(
            total=Count("tasks"),
            done=Count("tasks", filter=Q(tasks__done_at__isnull=False)),
        )
        .prefetch_related("tags")[:limit]
    )
