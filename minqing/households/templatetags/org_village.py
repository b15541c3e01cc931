"""The households' part of a village's page in the organisation tree (``org/node.html`` loads
this library; the organisation app imports nothing of households)."""

from __future__ import annotations

from typing import Any

from django import template
from django.core.paginator import Paginator

from minqing.households.models import HouseholdTag, VillageArchive
from minqing.households.selectors import village_households as households_of_village
from minqing.org.models import Node

register = template.Library()

PAGE_SIZE = 50


@register.inclusion_tag("households/org_village_archive.html")
def village_archive(village: Node, can_edit: bool) -> dict[str, Any]:
    """The village archive card of a village's own page."""
    return {
        "node": village,
        "archive": VillageArchive.objects.filter(village=village).first(),
        "can_edit": can_edit,
    }


@register.inclusion_tag("households/org_village_households.html", takes_context=True)
def village_households(context: Any, node: Node, village: Node, can_edit: bool) -> dict[str, Any]:
    """The paged households of a village (or of one of its areas or grids), by tag."""
    request = context["request"]
    tag = request.GET.get("tag", "")
    page = Paginator(households_of_village(village, node=node, tag=tag), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return {
        "node": node,
        "page": page,
        "tag": tag,
        "tags": HouseholdTag.objects.all(),
        "can_edit": can_edit,
    }
