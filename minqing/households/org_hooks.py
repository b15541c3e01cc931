"""The households' part of the organisation tree: each node's own households and residents,
from which ``org.services.recount_tree`` rebuilds the cumulative counts (the organisation app
imports every app's ``org_hooks`` at start-up and nothing else of households). The village's
page lists its households through this app's ``org_village`` template tags."""

from __future__ import annotations

from django.db.models import Count

from minqing.households.models import Household, Resident
from minqing.org import hooks


def own_counts() -> tuple[dict[int, int], dict[int, int]]:
    households = dict(Household.objects.values_list("node").annotate(n=Count("id")))
    residents = dict(Resident.objects.values_list("household__node").annotate(n=Count("id")))
    return households, residents


hooks.provide_own_counts(own_counts)
