"""Night-visit pages (民情夜访): the sessions of a town or village, planning one, and a session's
stops in visiting order with a "record visit" link each."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from minqing.accounts.middleware import AuthedRequest
from minqing.accounts.scope import scope_for
from minqing.households.models import HouseholdTag
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied
from minqing.lib.views import forbidden
from minqing.org.models import Level
from minqing.org.selectors import breadcrumbs
from minqing.org.views import scoped_node
from minqing.visits import selectors
from minqing.visits.models import MONTHLY_FIRST_MONDAY, NightVisitPlan
from minqing.visits.services import night


@require_GET
def night_list(request: HttpRequest, node_pk: int) -> HttpResponse:
    """The night visits of a town's or a village's villages, the latest first."""
    node = scoped_node(request, node_pk)
    if node.level not in (Level.TOWN, Level.VILLAGE):
        raise Http404
    if not night.can_view(request.user, node):
        return forbidden(request, _("Only cadres and grid workers of this place see this."))
    return render(
        request,
        "visits/night_list.html",
        {
            "node": node,
            "crumbs": breadcrumbs(node, request.user),
            "plans": selectors.plans_at(node),
            "can_plan": node.level == Level.VILLAGE and night.can_plan(request.user, node),
            "today": timezone.localdate(),
        },
    )


def _ints(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.strip().isdigit()]


def _time(value: str) -> dt.time | None:
    try:
        return dt.time.fromisoformat(value)
    except ValueError:
        return None


def _input(post: Any) -> tuple[night.NightInput, dict[str, Any]]:
    values = {
        "title": post.get("title", "").strip(),
        "on": post.get("on", "").strip(),
        "starts": post.get("starts", "").strip(),
        "ends": post.get("ends", "").strip(),
        "leader": post.get("leader", "").strip(),
        "duty": post.getlist("duty"),
        "team": post.getlist("team"),
        "tags": post.getlist("tags"),
        "with_open_issues": post.get("with_open_issues") == "1",
        "max_stops": post.get("max_stops", "").strip(),
        "recurrence": post.get("recurrence", "").strip(),
    }
    try:
        on = dt.date.fromisoformat(values["on"])
    except ValueError:
        on = None
    data = night.NightInput(
        title=values["title"],
        on=on,
        starts=_time(values["starts"]),
        ends=_time(values["ends"]),
        leader_id=int(values["leader"]) if values["leader"].isdigit() else None,
        duty_ids=_ints(values["duty"]),
        team_ids=_ints(values["team"]),
        tag_codes=[t for t in values["tags"] if t],
        with_open_issues=values["with_open_issues"],
        max_stops=int(values["max_stops"]) if values["max_stops"].isdigit() else 0,
        recurrence=values["recurrence"],
    )
    return data, values


@require_http_methods(["GET", "POST"])
def night_new(request: AuthedRequest, node_pk: int) -> HttpResponse:
    """Plan a night visit for a village: 1+2+N team, evening slot, targets, route."""
    village = scoped_node(request, node_pk)
    if village.level != Level.VILLAGE:
        raise Http404
    if not night.can_plan(request.user, village):
        return forbidden(request, _("Only cadres of this village, its town or the county plan."))
    values: dict[str, Any] = {
        "title": _("Night visit"),
        "on": timezone.localdate().isoformat(),
        "starts": "19:00",
        "ends": "21:30",
        "leader": "",
        "duty": [],
        "team": [],
        "tags": [],
        "with_open_issues": True,
        "max_stops": "8",
        "recurrence": "",
    }
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        data, values = _input(request.POST)
        try:
            plan = night.night_plan_create(
                by=request.user, village=village, data=data, context=AuditContext.of(request)
            )
        except PermissionDenied as exc:
            return forbidden(request, exc)
        except ValidationError as exc:
            errors, status = exc.message_dict, 400
        else:
            return redirect("visits:night_detail", pk=plan.pk)
    found = night.candidates(village)
    return render(
        request,
        "visits/night_form.html",
        {
            "village": village,
            "crumbs": breadcrumbs(village, request.user),
            "values": values,
            "errors": errors,
            "town": found.town,
            "town_staff": found.town_staff,
            "village_people": found.village,
            "tags": HouseholdTag.objects.all(),
            "monthly": MONTHLY_FIRST_MONDAY,
            "evening_from": night.EVENING_FROM,
            "evening_until": night.EVENING_UNTIL,
            "minutes": night.MINUTES_PER_STOP,
        },
        status=status,
    )


@require_GET
def night_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A session: team, slot, and the stops in visiting order, visited or not."""
    plan = get_object_or_404(
        NightVisitPlan.objects.filter(scope_for(request.user).node_q("village__path"))
        .select_related("village", "town", "leader", "series")
        .prefetch_related("duty", "team", "target_tags"),
        pk=pk,
    )
    on_team = request.user.pk in {plan.leader_id, *(u.pk for u in plan.duty.all())} | {
        u.pk for u in plan.team.all()
    }
    if not (on_team or night.can_view(request.user, plan.village)):
        return forbidden(request, _("Only cadres and grid workers of this place see this."))
    stops = selectors.plan_stops(plan)
    return render(
        request,
        "visits/night_detail.html",
        {
            "plan": plan,
            "crumbs": breadcrumbs(plan.village, request.user),
            "stops": stops,
            "visited": sum(1 for s in stops if s.visited_at),
            "series_of": plan.series if plan.series_id and plan.series_id != plan.pk else None,
        },
    )
