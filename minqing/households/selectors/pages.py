"""Reading household archives for their pages. Functions that take the user apply their
scope; the others take objects the caller has already fetched through a scoped queryset."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from minqing.households.models import ArchiveChange, Household, HouseholdTag, Resident
from minqing.org.models import Node, subtree_q


def household_for_page(user: Any, pk: int) -> Household:
    """One household with everything its page shows, in a fixed number of queries."""
    return (
        Household.objects.visible_to(user)
        .select_related("node", "village")
        .prefetch_related(
            Prefetch("tags", queryset=HouseholdTag.objects.order_by("sort_key")),
            Prefetch("members", queryset=Resident.objects.order_by("id")),
        )
        .get(pk=pk)
    )


def household_changes(household: Household, limit: int = 30) -> QuerySet[ArchiveChange]:
    return household.changes.select_related("actor").order_by("-at", "-id")[:limit]


def village_households(
    village: Node, *, node: Node | None = None, tag: str = ""
) -> QuerySet[Household]:
    """Households of a village (or one of its groups), for the paged village list."""
    qs = Household.objects.filter(village=village)
    if node is not None and node.pk != village.pk:
        qs = qs.filter(subtree_q(node.path, "node__path"))
    if tag:
        qs = qs.filter(tags__code=tag)
    return qs.select_related("node").prefetch_related("tags").order_by("number")
