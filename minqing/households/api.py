"""JSON API under /api/v1/ (read-only for now; issue 3 adds tokens and the OpenAPI schema).

Personal data leaves the server masked; the reveal endpoint is the only way to a full value
and it writes an audit row, exactly as the page does.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET, require_POST

from minqing.accounts.scope import scope_for
from minqing.households import selectors, services
from minqing.households.models import Household, Resident
from minqing.lib.errors import PermissionDenied
from minqing.org.models import Node
from minqing.org.selectors import children_of, nodes_visible_to


def _masked(value: Any) -> str:
    return str(value) if value else ""


def _node(node: Node) -> dict[str, Any]:
    return {
        "id": node.pk,
        "name": node.name,
        "level": node.level,
        "level_name": node.display_level,
        "code": node.code,
        "kind": node.kind,
        "parent": node.parent_id,
        "households": node.household_count,
        "residents": node.resident_count,
    }


def _resident(r: Resident, can_see_minors: bool) -> dict[str, Any]:
    if r.is_minor and not can_see_minors:
        return {"id": r.pk, "restricted": True, "relation": r.relation}
    return {
        "id": r.pk,
        "name": r.name,
        "relation": r.relation,
        "sex": r.sex,
        "birth_date": r.birth_date.isoformat() if r.birth_date else None,
        "id_number": _masked(r.id_number),
        "phone": _masked(r.phone),
        "politics": r.politics,
        "education": r.education,
        "occupation": r.occupation,
        "works_away": r.works_away,
        "health": r.health,
        "minor": r.is_minor,
    }


def _household(h: Household, can_see_minors: bool) -> dict[str, Any]:
    return {
        "id": h.pk,
        "number": h.number,
        "head_name": h.head_name,
        "address": h.address,
        "village": h.village_id,
        "node": h.node_id,
        "phone": _masked(h.phone),
        "tags": [t.code for t in h.tags.all()],
        "income_source": h.income_source,
        "family_situation": h.family_situation,
        "version": h.version,
        "members": [_resident(r, can_see_minors) for r in h.members.all()],
    }


@require_GET
def node_detail(request: HttpRequest, pk: int) -> JsonResponse:
    node = get_object_or_404(nodes_visible_to(request.user), pk=pk)
    return JsonResponse({**_node(node), "children": [_node(c) for c in children_of(node)]})


@require_GET
def household_detail(request: HttpRequest, pk: int) -> JsonResponse:
    try:
        household = selectors.household_for_page(request.user, pk)
    except Household.DoesNotExist:
        raise Http404 from None
    return JsonResponse(_household(household, scope_for(request.user).can_see_minors))


@require_GET
def search(request: HttpRequest) -> JsonResponse:
    results = selectors.search(request.user, request.GET.get("q", ""))
    minors_ok = scope_for(request.user).can_see_minors
    return JsonResponse(
        {
            "query": results.query,
            "kind": results.kind,
            "nodes": [_node(n) for n in results.nodes],
            "households": [
                {
                    "id": h.pk,
                    "number": h.number,
                    "head_name": h.head_name,
                    "address": h.address,
                    "village": h.village.name,
                }
                for h in results.households
            ],
            "residents": [
                {
                    "id": r.pk,
                    "household": r.household_id,
                    "name": r.name if minors_ok or not r.is_minor else r.name[:1] + "*",
                }
                for r in results.residents
            ],
        }
    )


@require_POST
def reveal(request: HttpRequest, kind: str, pk: int) -> JsonResponse:
    """POST {"field": "id_number"} → {"value": "…"}; audited."""
    try:
        field = str(json.loads(request.body or b"{}").get("field", ""))
    except (ValueError, AttributeError):
        return JsonResponse({"detail": 'Body must be JSON: {"field": …}.'}, status=400)
    if kind == "households":
        try:
            obj: Household | Resident = selectors.household_for_page(request.user, pk)
        except Household.DoesNotExist:
            raise Http404 from None
    elif kind == "residents":
        obj = get_object_or_404(
            Resident.objects.visible_to(request.user).select_related("household__node"), pk=pk
        )
    else:
        raise Http404
    try:
        value = services.reveal(by=request.user, obj=obj, field=field, request=request)
    except ValidationError as exc:
        return JsonResponse({"detail": exc.messages}, status=400)
    except PermissionDenied as exc:
        return JsonResponse({"detail": str(exc)}, status=403)
    response = JsonResponse({"field": field, "value": value})
    response["Cache-Control"] = "no-store"
    return response
