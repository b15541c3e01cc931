"""Issue lists: my list (问题清单), the dispatch board (派单台) and the report (通报,
satisfaction)."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from minqing.accounts.middleware import AuthedRequest
from minqing.accounts.models import Role
from minqing.accounts.scope import scope_for
from minqing.issues import selectors
from minqing.issues.models import OPEN_STATES, Category, Colour, Issue, Status
from minqing.issues.services import settings as services_settings
from minqing.org.views import scoped_node

PAGE = 30
BOARD_STATES = {key: states for key, _label, states in selectors.BOARD_GROUPS}
BOARD_LABELS = {key: label for key, label, _states in selectors.BOARD_GROUPS}


def _filters(request: AuthedRequest) -> tuple[selectors.IssueFilters, dict[str, Any]]:
    """The list and board filters from the URL, and what their form shows. A village or place
    outside the reader's scope answers 404; a malformed value is ignored."""
    villages = selectors.filter_villages(request.user)
    categories = list(Category.objects.filter(active=True))
    found = selectors.IssueFilters()
    get = request.GET
    if get.get("village", "").isdigit():
        by_pk = {v.pk: v for v in villages}
        found.village = by_pk.get(int(get["village"]))
        if found.village is None:
            raise Http404
    if get.get("node", "").isdigit():
        found.node = scoped_node(request, int(get["node"]))
    if get.get("colour") in Colour.values:
        found.colour = get["colour"]
    if get.get("category", "").isdigit():
        found.category = next((c for c in categories if c.pk == int(get["category"])), None)
    if get.get("light") in selectors.LIGHTS:
        found.light = get["light"]
    found.overdue = get.get("overdue") == "1" or found.light == "red"
    if found.overdue:
        found.light = ""
    form = {
        "filters": found,
        "villages": villages if len(villages) > 1 else [],
        "categories": categories,
        "colours": Colour.choices,
        "lights": [
            ("green", _("On time")),
            ("yellow", _("Deadline approaching")),
        ],
    }
    return found, form


@require_GET
def issue_list(request: AuthedRequest) -> HttpResponse:
    """问题清单 — the issues in my places or my department, open first, filterable."""
    qs: QuerySet[Issue] = Issue.objects.visible_to(request.user).select_related(
        "village", "category", "owner_node", "owner_department"
    )
    state = request.GET.get("state", "open")
    if state == "open":
        qs = qs.filter(status__in=OPEN_STATES)
    elif state == "resolved":
        qs = qs.filter(status__in=[Status.RESOLVED, Status.REVISITED])
    elif state == "closed":
        qs = qs.filter(status=Status.CLOSED)
    elif state in BOARD_STATES:
        qs = qs.filter(status__in=BOARD_STATES[state])
    now = timezone.now()
    filters, filter_form = _filters(request)
    qs = filters.apply(qs, now)
    if request.GET.get("mine") == "1":
        qs = qs.filter(responsible=request.user)
    ordering = (
        ("due_at", "id") if state == "open" or state in BOARD_STATES else ("-updated_at", "-id")
    )
    page = Paginator(qs.order_by(*ordering), PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "issues/list.html",
        {
            "page": page,
            "state": state,
            "board_label": BOARD_LABELS.get(state, ""),
            "now": now,
            "query": request.GET.copy(),
            "mine": request.GET.get("mine") == "1",
            "can_dispatch": _is_dispatcher(request.user),
            "can_edit_settings": services_settings.can_edit_settings(request.user),
            **filter_form,
        },
    )


def _is_dispatcher(user: Any) -> bool:
    return scope_for(user).has_any(frozenset({Role.TOWN_STAFF, Role.COMMAND_CENTRE}))


@require_GET
def board(request: AuthedRequest) -> HttpResponse:
    """派单台 — for a town or the county: what waits for whom, most urgent first, filterable
    by village, colour, category and light (the column counts follow the filters)."""
    filters, filter_form = _filters(request)
    now = timezone.now()
    columns = selectors.board(request.user, filters=filters, now=now)
    return render(
        request,
        "issues/board.html",
        {"columns": columns, "node": filters.node, "now": now, **filter_form},
    )


@require_GET
def late_units(request: AuthedRequest) -> HttpResponse:
    """通报 — units that let deadlines pass, with how many times, in the reader's scope."""
    days = int(request.GET.get("days", "30")) if request.GET.get("days", "30").isdigit() else 30
    return render(
        request,
        "issues/late.html",
        {
            "rows": selectors.late_units(request.user, days=days),
            "days": days,
            "satisfaction": selectors.satisfaction(request.user, days=90),
            "sample": selectors.sample_for_revisit(request.user),
            "now": timezone.now(),
        },
    )
