"""The contact ledger (包保联系台账), its Excel file, the coverage report and contact cards.

Views read the request and call ``selectors``, ``ledger`` and ``cards``; scope is checked by
``scoped_node`` (out of scope answers 404 like a missing place).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from minqing.accounts.permissions import Action, allowed
from minqing.contacts import selectors
from minqing.contacts.card_print import (
    CardFontMissing,
    card_font,
    public_base_url,
    unreachable_host,
)
from minqing.contacts.cards import CARD_LEVELS, card_households
from minqing.contacts.cards import cards_pdf as make_cards_pdf
from minqing.contacts.ledger import ledger_export
from minqing.households.models import Household
from minqing.lib.errors import PermissionDenied
from minqing.lib.views import forbidden
from minqing.org.models import Node
from minqing.org.selectors import breadcrumbs
from minqing.org.views import scoped_node

PAGE_SIZE = 50


def _unavailable(request: HttpRequest, node: Node, reason: str) -> HttpResponse:
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


def _filters(request: HttpRequest, node: Node, rules: list[selectors.KindRule]) -> dict[str, Any]:
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
def ledger(request: HttpRequest, node_pk: int) -> HttpResponse:
    """包保联系台账: every household of the place with its person of each active kind."""
    node = scoped_node(request, node_pk)
    rules = _rules(node)
    if rules is None:
        return _unavailable(request, node, _("Open the ledger of a county or a place inside one."))
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
def ledger_xlsx(request: HttpRequest, node_pk: int) -> HttpResponse:
    """The ledger as xlsx: masked on GET; unmasked on POST ``unmasked=1`` (reveal permission,
    audited). GET ``?unmasked=1`` asks first, so a link alone never exports full phones."""
    node = scoped_node(request, node_pk)
    rules = _rules(node)
    if rules is None:
        return _unavailable(request, node, _("Open the ledger of a county or a place inside one."))
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
        result = ledger_export(
            by=request.user,
            node=node,
            unmasked=unmasked,
            place=filters["place"],
            missing=filters["missing"],
            request=request,
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
def coverage(request: HttpRequest, node_pk: int) -> HttpResponse:
    """覆盖情况: who lacks a responsible person, village by village (grid by grid)."""
    node = scoped_node(request, node_pk)
    rules = _rules(node)
    if rules is None:
        return _unavailable(
            request, node, _("Open the coverage of a county or a place inside one.")
        )
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


def _card_target(request: HttpRequest, node_pk: int) -> tuple[Node, Household | None]:
    """The place (and the one household, ``?household=<id>``) whose cards are asked for."""
    node = scoped_node(request, node_pk)
    household = None
    if request.GET.get("household"):
        raw = request.GET["household"]
        if not raw.isdigit():
            raise Http404
        household = get_object_or_404(Household.objects.visible_to(request.user), pk=int(raw))
    return node, household


def _card_page(
    request: HttpRequest, node: Node, household: Household | None, *, status: int = 200
) -> HttpResponse:
    """The page before printing: how many cards, and what would make them useless."""
    try:
        card_font()
        font_problem = ""
    except CardFontMissing as exc:
        font_problem = str(exc)
    base_url = public_base_url(request)
    count = card_households(node, household).count()
    query = QueryDict(mutable=True)
    if household is not None:
        query["household"] = str(household.pk)
    return render(
        request,
        "contacts/cards.html",
        {
            "node": node,
            "crumbs": breadcrumbs(node, request.user),
            "household": household,
            "count": count,
            "font_problem": font_problem,
            "base_url": base_url,
            "unreachable": unreachable_host(base_url),
            "query": query.urlencode(),
        },
        status=status,
    )


def _may_print(request: HttpRequest, node: Node) -> HttpResponse | None:
    """The answer that stops printing here (wrong level, no reveal role), or None."""
    if node.level not in CARD_LEVELS:
        return _unavailable(
            request, node, _("Contact cards are printed for a village, an area or a grid.")
        )
    if not allowed(request.user, Action.REVEAL, node):
        return forbidden(request, _("Your role may not print full phone numbers."))
    return None


@require_GET
def cards(request: HttpRequest, node_pk: int) -> HttpResponse:
    """联系卡: the page before printing (count, missing font, unreachable public address)."""
    node, household = _card_target(request, node_pk)
    if (refused := _may_print(request, node)) is not None:
        return refused
    if household is not None and not card_households(node, household).exists():
        raise Http404
    return _card_page(request, node, household)


@require_GET
def cards_pdf(request: HttpRequest, node_pk: int) -> HttpResponse:
    """联系卡 as a PDF: every household of a village/grid, or ``?household=<id>``.
    Without an embeddable font, the card page (503) says what to install instead."""
    node, household = _card_target(request, node_pk)
    if (refused := _may_print(request, node)) is not None:
        return refused
    try:
        data, _count = make_cards_pdf(
            by=request.user,
            node=node,
            household=household,
            base_url=public_base_url(request),
            request=request,
        )
    except (Node.DoesNotExist, Household.DoesNotExist):
        raise Http404 from None
    except PermissionDenied as exc:
        return forbidden(request, exc)
    except CardFontMissing:
        return _card_page(request, node, household, status=503)
    name = f"联系卡-{household.number if household else node.name}.pdf"
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(False, name)
    response["Cache-Control"] = "no-store"
    return response
