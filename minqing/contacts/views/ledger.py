"""The contact ledger (包保联系台账), its Excel file and the coverage report.

Views read the request and call ``selectors`` and ``services.ledger_export``; scope is
checked by ``scoped_node`` (out of scope answers 404 like a missing place).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpResponse,
    QueryDict,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from minqing.accounts.middleware import AuthedRequest
from minqing.accounts.permissions import Action, allowed
from minqing.contacts import selectors, services
from minqing.contacts.selectors import CARD_LEVELS
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied
from minqing.lib.views import forbidden
from minqing.org.models import Node
from minqing.org.selectors import breadcrumbs
from minqing.org.views import scoped_node

PAGE_SIZE = 50


def unavailable(request: AuthedRequest, node: Node, reason: str) -> HttpResponse:
    return render(
        request,
        "contacts/ledger_unavailable.html",
        {"node": node, "crumbs": breadcrumbs(node, request.user), "reason": reason},
        status=400,
    )


def _rules(node: Node) -> list[selectors.KindRule] | None:
    try:
        return selectors.kind_rules(node)
    except ValidationError:
        return None  # a province or city: more than one county's rules


def _filters(request: AuthedRequest, node: Node, rules: list[selectors.KindRule]) -> dict[str, Any]:
    """The ledger's filters from the query string; values that do not fit are dropped."""
    data = request.GET if request.method == "GET" else request.POST
    place = None
    raw = data.get("grid", "")
    if raw.isdigit() and int(raw) != node.pk:
        place = Node.objects.filter(pk=int(raw)).first()
        if place is not None and not place.is_descendant_of(node, include_self=False):
            place = None
    missing = data.get("missing", "")
    if missing not in ("any", *(r.kind for r in rules if r.required)):
        missing = ""
    query = QueryDict(mutable=True)
    if place is not None:
        query["grid"] = str(place.pk)
    if missing:
        query["missing"] = missing
    return {"place": place, "missing": missing, "query": query.urlencode()}


@require_GET
def ledger(request: AuthedRequest, node_pk: int) -> HttpResponse:
    """包保联系台账: every household of the place with its person of each active kind."""
    node = scoped_node(request, node_pk)
    rules = _rules(node)
    if rules is None:
        return unavailable(request, node, _("Open the ledger of a county or a place inside one."))
    filters = _filters(request, node, rules)
    households = selectors.ledger_households(
        node, rules, place=filters["place"], missing=filters["missing"]
    )
    paginator = Paginator(selectors.ledger_values(households), PAGE_SIZE)
    paginator.count = households.count()  # without the joins the rows need: an index-only count
    page = paginator.get_page(request.GET.get("page"))
    rows = list(selectors.ledger_rows(page.object_list, rules))
    labels = {r.kind: r.label for r in rules}
    for row in rows:
        for cell in row.cells:  # the column's name beside each cell on a phone (table.stack)
            cell.column = labels.get(cell.kind, cell.kind)
    return render(
        request,
        "contacts/ledger.html",
        {
            "node": node,
            "crumbs": breadcrumbs(node, request.user),
            "rules": rules,
            "required": [r for r in rules if r.required],
            "page": page,
            "rows": rows,
            "places": selectors.ledger_places(node),
            **filters,
            "can_reveal": allowed(request.user, Action.REVEAL, node),
            "can_print": node.level in CARD_LEVELS and allowed(request.user, Action.REVEAL, node),
        },
    )


@require_http_methods(["GET", "POST"])
def ledger_xlsx(request: AuthedRequest, node_pk: int) -> HttpResponseBase:
    """The ledger as xlsx: masked on GET; unmasked on POST ``unmasked=1`` (reveal permission,
    audited). GET ``?unmasked=1`` asks first, so a link alone never exports full phones."""
    node = scoped_node(request, node_pk)
    rules = _rules(node)
    if rules is None:
        return unavailable(request, node, _("Open the ledger of a county or a place inside one."))
    filters = _filters(request, node, rules)
    data = request.POST if request.method == "POST" else request.GET
    unmasked = data.get("unmasked") == "1"
    if unmasked and not allowed(request.user, Action.REVEAL, node):
        return forbidden(request, _("Your role may not export full phone numbers."))
    if unmasked and request.method == "GET":
        return render(
            request,
            "contacts/ledger_unmasked.html",
            {"node": node, "crumbs": breadcrumbs(node, request.user), **filters},
        )
    try:
        result = services.ledger_export(
            by=request.user,
            node=node,
            unmasked=unmasked,
            place=filters["place"],
            missing=filters["missing"],
            context=AuditContext.of(request),
        )
    except PermissionDenied as exc:
        return forbidden(request, exc)
    except Node.DoesNotExist:
        raise Http404 from None
    response = StreamingHttpResponse(result.chunks, content_type=result.content_type)
    response["Content-Disposition"] = content_disposition_header(True, result.filename)
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def coverage(request: AuthedRequest, node_pk: int) -> HttpResponse:
    """覆盖情况: who lacks a responsible person, village by village (grid by grid)."""
    node = scoped_node(request, node_pk)
    rules = _rules(node)
    if rules is None:
        return unavailable(request, node, _("Open the coverage of a county or a place inside one."))
    report = selectors.coverage(node, rules)
    kinds = report["kinds"]
    rows = [
        {
            **row,
            "cells": [
                {"kind": k["kind"], "label": k["label"], **row["kinds"][k["kind"]]} for k in kinds
            ],
        }
        for row in report["rows"]
    ]
    totals = [{**k, **report["totals"][k["kind"]]} for k in kinds]
    return render(
        request,
        "contacts/coverage.html",
        {
            "node": node,
            "crumbs": breadcrumbs(node, request.user),
            "report": report,
            "rows": rows,
            "totals": totals,
            "lacking": [t for t in totals if t["missing"]],
            "row_links": report["rows_are"] == "village",
        },
    )
