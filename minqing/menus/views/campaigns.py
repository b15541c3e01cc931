"""Quarterly-menu pages: campaigns (暖心走访) — a county's or town's campaigns and the start
form, live progress down the tree, a village's tasks, quality signals and back-checks (抽样回访).

Every page asks ``permissions.allowed`` for the place it shows and refuses with 403 otherwise;
the services enforce the same rules for every change. Progress is read only from the live
counters (``selectors.progress``): a constant number of queries whatever the node's size.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from minqing.accounts.middleware import AuthedRequest
from minqing.accounts.models import User
from minqing.accounts.scope import scope_for
from minqing.lib.context import AuditContext
from minqing.lib.errors import InvalidTransition, PermissionDenied
from minqing.lib.masking import mask_name
from minqing.lib.views import forbidden
from minqing.menus.models import (
    BackCheck,
    BackCheckItem,
    BackCheckResult,
    Campaign,
    CampaignState,
    MenuVersion,
    Outcome,
    Task,
    VersionState,
)
from minqing.menus.permissions import DENIED, MenuAction, allowed
from minqing.menus.selectors import authoring as authoring_selectors
from minqing.menus.selectors import progress as progress_selectors
from minqing.menus.selectors import quality
from minqing.menus.services import backchecks as backcheck_services
from minqing.menus.services import campaigns as campaign_services
from minqing.menus.views._refuse import refused
from minqing.org.models import Level, Node, subtree_q
from minqing.org.selectors import breadcrumbs

#: Levels whose tasks are listed household by household (a village has up to 7,570).
TASK_LEVELS = (Level.VILLAGE, Level.AREA, Level.GRID)
TASKS_PER_PAGE = 50
#: The seed's window is two weeks (2/20–3/5): the form offers the same length from today.
DEFAULT_WINDOW_DAYS = 14


def _campaign(pk: int) -> Campaign:
    return get_object_or_404(
        Campaign.objects.select_related("menu", "version", "scope", "county"), pk=pk
    )


def _node_of(campaign: Campaign, pk: Any) -> Node:
    """A node of the campaign's scope (404 outside it, or for no such node)."""
    try:
        node_pk = int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
    node = get_object_or_404(Node, pk=node_pk)
    if not node.path.startswith(campaign.scope_path):
        raise Http404
    return node


def _default_node(request: AuthedRequest, campaign: Campaign) -> Node:
    """Without ``?node=``: the campaign's scope, or the user's own place inside it."""
    if allowed(request.user, MenuAction.SEE_PROGRESS, campaign.scope):
        return campaign.scope
    mine = [p for p in scope_for(request.user).node_paths if p.startswith(campaign.scope_path)]
    if mine:
        return Node.objects.get(path=mine[0])
    return campaign.scope


def _page_node(request: AuthedRequest, campaign: Campaign) -> Node:
    raw = request.GET.get("node")
    return _default_node(request, campaign) if raw in (None, "") else _node_of(campaign, raw)


def _crumbs(node: Node, campaign: Campaign, user: Any) -> list[Node]:
    """The ancestors the user may open, from the campaign's scope down to ``node``."""
    return [n for n in breadcrumbs(node, user) if n.path.startswith(campaign.scope_path)]


# --------------------------------------------------------------------------- list and start


class StartForm(forms.Form):
    """The start form as typed; ``campaign_start`` checks the values (its messages are the
    page's, next to their fields)."""

    version = forms.TypedChoiceField(label=gettext_lazy("Menu version"), coerce=int)
    title = forms.CharField(label=gettext_lazy("Title"), required=False, max_length=200)
    starts_on = forms.DateField(
        label=gettext_lazy("From"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    ends_on = forms.DateField(
        label=gettext_lazy("Until"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    scope = forms.TypedChoiceField(label=gettext_lazy("Households of"), coerce=int)
    call_limit = forms.IntegerField(label=gettext_lazy("Phone tries per household"))
    min_seconds = forms.IntegerField(label=gettext_lazy("Shortest plausible visit (seconds)"))
    same_answers_limit = forms.IntegerField(
        label=gettext_lazy("Same answers from one visitor in (households)")
    )

    def __init__(
        self,
        *args: Any,
        versions: list[MenuVersion],
        places: list[tuple[int, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        version_field = self.fields["version"]
        scope_field = self.fields["scope"]
        assert isinstance(version_field, forms.ChoiceField)
        assert isinstance(scope_field, forms.ChoiceField)
        version_field.choices = [
            (v.pk, _("%(menu)s · version %(n)d") % {"menu": v.menu.title, "n": v.number})
            for v in versions
        ]
        scope_field.choices = places
        for name in ("version", "starts_on", "ends_on", "scope"):
            self.fields[name].error_messages["required"] = _("Fill this in.")
        self.fields["version"].error_messages["invalid_choice"] = _(
            "Only a published version can be taken to the households."
        )
        self.fields["scope"].error_messages["invalid_choice"] = _(
            "Choose a place of the menu's county."
        )
        for name in ("starts_on", "ends_on"):
            self.fields[name].error_messages["invalid"] = _("Give a date like 2027-02-20.")
        for name in ("call_limit", "min_seconds", "same_answers_limit"):
            self.fields[name].error_messages["invalid"] = _("Give a whole number.")
            self.fields[name].error_messages["required"] = _("Fill this in.")


def _scope_places(node: Node, user: Any) -> list[tuple[int, str]]:
    """The node and the towns and villages under it the user may start a campaign for."""
    places = (
        Node.objects.filter(subtree_q(node.path))
        .filter(level__in=[Level.COUNTY, Level.TOWN, Level.VILLAGE])
        .only("pk", "name", "path", "level", "parent_id")
        .order_by("path")
    )
    names: dict[int, str] = {}
    out: list[tuple[int, str]] = []
    for place in places:
        if not allowed(user, MenuAction.RUN_CAMPAIGN, place):
            continue
        names[place.pk] = place.name
        if place.pk == node.pk:
            label = _("%(place)s (all of it)") % {"place": place.name}
        elif place.level == Level.VILLAGE and place.parent_id in names:
            label = f"{names[place.parent_id]} / {place.name}"
        else:
            label = place.name
        out.append((place.pk, label))
    return out


@require_http_methods(["GET", "POST"])
def campaign_list(request: AuthedRequest, node_pk: int) -> HttpResponse:
    """暖心走访 — a county's or a town's campaigns, and the form that starts one."""
    node = get_object_or_404(Node, pk=node_pk)
    if node.level not in (Level.COUNTY, Level.TOWN):
        raise Http404
    if not allowed(request.user, MenuAction.SEE_PROGRESS, node):
        return refused(request, DENIED[MenuAction.SEE_PROGRESS], node.path)
    county = campaign_services.county_of(node)
    if county is None:
        raise Http404
    can_start = allowed(request.user, MenuAction.RUN_CAMPAIGN, node)
    if request.method == "POST" and not can_start:
        return forbidden(request, DENIED[MenuAction.RUN_CAMPAIGN])
    ancestors = [node.path[: i + 1] for i, ch in enumerate(node.path) if ch == "/"]
    campaigns = list(
        Campaign.objects.filter(county=county)
        .filter(subtree_q(node.path, "scope_path") | Q(scope_path__in=ancestors))
        .select_related("menu", "version", "scope")
        .order_by("-starts_on", "-id")
    )
    shown = progress_selectors.campaigns_progress(campaigns, node)
    form = None
    published: list[MenuVersion] = []
    status = 200
    if can_start:
        versions = list(
            MenuVersion.objects.filter(menu__county=county, state=VersionState.PUBLISHED)
            .select_related("menu")
            .order_by("-menu__year", "-menu__quarter", "-number")
        )
        published = list(versions)
        # A posted version may be any of the county's (the service says why a draft is refused).
        if request.method == "POST":
            versions += list(
                MenuVersion.objects.filter(menu__county=county)
                .exclude(state=VersionState.PUBLISHED)
                .select_related("menu")
            )
        today = timezone.localdate()
        form = StartForm(
            request.POST if request.method == "POST" else None,
            versions=versions,
            places=_scope_places(node, request.user),
            initial={
                "version": versions[0].pk if versions else None,
                "starts_on": today,
                "ends_on": today + dt.timedelta(days=DEFAULT_WINDOW_DAYS - 1),
                "scope": node.pk,
                "call_limit": 3,
                "min_seconds": 90,
                "same_answers_limit": 10,
            },
        )
        if request.method == "POST":
            status = 400
            if form.is_valid():
                data = form.cleaned_data
                version = next(v for v in versions if v.pk == data["version"])
                scope = Node.objects.get(pk=data["scope"])
                try:
                    campaign = campaign_services.campaign_start(
                        by=request.user,
                        version=version,
                        scope=scope,
                        starts_on=data["starts_on"],
                        ends_on=data["ends_on"],
                        title=data["title"],
                        call_limit=data["call_limit"],
                        min_seconds=data["min_seconds"],
                        same_answers_limit=data["same_answers_limit"],
                        context=AuditContext.of(request),
                    )
                except PermissionDenied:
                    form.add_error("scope", _("Choose a place of the menu's county."))
                except ValidationError as exc:
                    for field, msgs in exc.message_dict.items():
                        for msg in msgs:
                            form.add_error(field if field in form.fields else None, msg)
                else:
                    here = progress_selectors.node_progress(campaign, scope).here
                    messages.success(
                        request,
                        _("%(title)s started: %(n)d households to visit.")
                        % {"title": campaign.title, "n": here.total},
                    )
                    return redirect(
                        reverse("menus:campaign", args=[campaign.pk])
                        + "?"
                        + urlencode({"node": campaign.scope_id})
                    )
            messages.error(request, _("Nothing was saved: correct the fields marked below."))
    return render(
        request,
        "menus/campaigns/list.html",
        {
            "node": node,
            "crumbs": [n for n in breadcrumbs(node, request.user) if n.depth >= county.depth],
            "rows": [(c, shown.get(c.pk)) for c in campaigns],
            "form": form,
            "published": published,
        },
        status=status,
    )


# --------------------------------------------------------------------------- progress


@require_GET
def campaign_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    """进度 — a campaign's live progress at a node and its children (read from the counters)."""
    campaign = _campaign(pk)
    node = _page_node(request, campaign)
    if not allowed(request.user, MenuAction.SEE_PROGRESS, node):
        return refused(request, DENIED[MenuAction.SEE_PROGRESS], node.path)
    progress = progress_selectors.node_progress(campaign, node)
    return render(
        request,
        "menus/campaigns/detail.html",
        {
            "campaign": campaign,
            "node": node,
            "crumbs": _crumbs(node, campaign, request.user),
            "here": progress.here,
            "children": progress.children,
            "tasks_here": node.level in TASK_LEVELS,
            "child_tasks": bool(progress.children)
            and progress.children[0].node.level in TASK_LEVELS,
            "can_close": campaign.state == CampaignState.OPEN
            and allowed(request.user, MenuAction.RUN_CAMPAIGN, campaign.scope),
            "can_backcheck": node.level == Level.TOWN
            and allowed(request.user, MenuAction.BACKCHECK, node),
            "can_enter": authoring_selectors.may_enter(request.user, campaign),
            "can_print": authoring_selectors.may_print(request.user, campaign),
        },
    )


@require_POST
def campaign_close(request: AuthedRequest, pk: int) -> HttpResponse:
    """结束 — close the campaign (late records made inside its window are still taken)."""
    campaign = _campaign(pk)
    if not allowed(request.user, MenuAction.RUN_CAMPAIGN, campaign.scope):
        return refused(request, DENIED[MenuAction.RUN_CAMPAIGN], campaign.scope_path)
    try:
        campaign_services.campaign_close(
            by=request.user, campaign=campaign, context=AuditContext.of(request)
        )
    except InvalidTransition as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, _("The campaign is closed."))
    return redirect("menus:campaign", pk=campaign.pk)


# --------------------------------------------------------------------------- tasks

TASK_FILTERS: dict[str, Any] = {
    "": (gettext_lazy("All"), Q()),
    "open": (gettext_lazy("Not done"), Q(outcome="")),
    "nobody": (gettext_lazy("Nobody responsible"), Q(assignee__isnull=True)),
    "not_reached": (gettext_lazy("Not reached"), Q(outcome=Outcome.NOT_REACHED)),
    "flagged": (gettext_lazy("Too fast"), Q(flagged=True)),
}


@require_GET
def campaign_tasks(request: AuthedRequest, pk: int, node_pk: int) -> HttpResponse:
    """任务 — a village's or grid's households in the campaign, whoever answers for them (a
    household with nobody is listed, highlighted), with filters and pages."""
    campaign = _campaign(pk)
    node = _node_of(campaign, node_pk)
    if node.level not in TASK_LEVELS:
        raise Http404
    if not allowed(request.user, MenuAction.SEE_PROGRESS, node):
        return refused(request, DENIED[MenuAction.SEE_PROGRESS], node.path)
    show = request.GET.get("show", "")
    if show not in TASK_FILTERS:
        show = ""
    tasks = Task.objects.filter(subtree_q(node.path, "node_path"), campaign=campaign).filter(
        TASK_FILTERS[show][1]
    )
    visitor = request.GET.get("visitor", "")
    if visitor.isdigit():
        tasks = tasks.filter(response__visitor_id=int(visitor))
    else:
        visitor = ""
    tasks = tasks.select_related("household", "assignee", "village").order_by(
        "node_path", "household__number", "pk"
    )
    page = Paginator(tasks, TASKS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [
        {
            "task": t,
            "number": t.household.number,
            "head": mask_name(t.household.head_name),
            "assignee": str(t.assignee) if t.assignee_id else "",
        }
        for t in page.object_list
    ]
    query = {"show": show} if show else {}
    if visitor:
        query["visitor"] = visitor
    return render(
        request,
        "menus/campaigns/tasks.html",
        {
            "campaign": campaign,
            "node": node,
            "crumbs": _crumbs(node, campaign, request.user),
            "rows": rows,
            "page": page,
            "filters": [(k, label, k == show) for k, (label, _q) in TASK_FILTERS.items()],
            "show": show,
            "visitor": visitor,
            "query": urlencode(query),
        },
    )


# --------------------------------------------------------------------------- quality


@require_GET
def campaign_quality(request: AuthedRequest, pk: int) -> HttpResponse:
    """质量 — records made in implausibly little time, and one visitor's identical answers in
    many households: signals the village checks (not verdicts)."""
    campaign = _campaign(pk)
    node = _page_node(request, campaign)
    if not allowed(request.user, MenuAction.SEE_PROGRESS, node):
        return refused(request, DENIED[MenuAction.SEE_PROGRESS], node.path)
    fast_count = quality.too_fast(campaign, node.path)
    fast = quality.too_fast_records(campaign, node.path) if fast_count else []
    groups = quality.same_answers(campaign, node.path)
    households = quality.same_answers_records(campaign, node.path, groups)
    names = (
        dict(
            User.objects.filter(pk__in={g.visitor_id for g in groups}).values_list(
                "pk", "full_name"
            )
        )
        if groups
        else {}
    )
    same = [
        {
            "group": g,
            "visitor": names.get(g.visitor_id) or str(g.visitor_id),
            "records": households.get((g.visitor_id, g.answers_hash), []),
        }
        for g in groups
    ]
    return render(
        request,
        "menus/campaigns/quality.html",
        {
            "campaign": campaign,
            "node": node,
            "crumbs": _crumbs(node, campaign, request.user),
            "fast_count": fast_count,
            "fast": fast,
            "same": same,
        },
    )


# --------------------------------------------------------------------------- back-checks


class DrawForm(forms.Form):
    """A sample by size or by share of the households done at home or by phone."""

    size = forms.IntegerField(label=gettext_lazy("Households"), required=False)
    share = forms.IntegerField(label=gettext_lazy("or a share (%)"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        size, share = data.get("size"), data.get("share")
        if size is None and share is None and not self.errors:
            self.add_error("size", _("Give a number of households or a share."))
        elif share is not None and not 1 <= share <= 100:
            self.add_error("share", _("A share between 1 and 100 per cent."))
        return data


@require_http_methods(["GET", "POST"])
def backcheck_list(request: AuthedRequest, pk: int, node_pk: int) -> HttpResponse:
    """抽样回访 — a town's back-check samples of the campaign, and the form that draws one."""
    campaign = _campaign(pk)
    town = _node_of(campaign, node_pk)
    if town.level != Level.TOWN:
        raise Http404
    if not allowed(request.user, MenuAction.BACKCHECK, town):
        return refused(request, DENIED[MenuAction.BACKCHECK], town.path)
    here = progress_selectors.node_progress(campaign, town).here
    answered = here.home + here.phone
    form = DrawForm(request.POST if request.method == "POST" else None, initial={"size": 20})
    for name in ("size", "share"):
        form.fields[name].error_messages["invalid"] = _("Give a whole number.")
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            size, share = form.cleaned_data["size"], form.cleaned_data["share"]
            if size is None:
                size = max(1, math.ceil(answered * share / 100))
            try:
                check = backcheck_services.backcheck_draw(
                    by=request.user,
                    campaign=campaign,
                    town=town,
                    size=size,
                    context=AuditContext.of(request),
                )
            except PermissionDenied as exc:
                return forbidden(request, exc)
            except ValidationError as exc:
                if hasattr(exc, "error_dict"):
                    for field, msgs in exc.message_dict.items():
                        for msg in msgs:
                            form.add_error(field if field in form.fields else None, msg)
                else:
                    form.add_error(None, exc.messages[0])
            else:
                messages.success(
                    request,
                    _("%(n)d households drawn for a call back.") % {"n": check.size},
                )
                return redirect("menus:backcheck", pk=check.pk)
        messages.error(request, _("Nothing was drawn: correct the fields marked below."))
    checks = list(
        BackCheck.objects.filter(campaign=campaign, town=town)
        .select_related("drawn_by")
        .order_by("-drawn_at", "-pk")
    )
    counts: dict[int, dict[str, int]] = {c.pk: {} for c in checks}
    for check_id, result in BackCheckItem.objects.filter(
        backcheck__in=[c.pk for c in checks]
    ).values_list("backcheck_id", "result"):
        counts[check_id][result] = counts[check_id].get(result, 0) + 1
    return render(
        request,
        "menus/campaigns/backchecks.html",
        {
            "campaign": campaign,
            "node": town,
            "crumbs": _crumbs(town, campaign, request.user),
            "answered": answered,
            "form": form,
            "checks": [
                {
                    "check": c,
                    "pending": counts[c.pk].get(BackCheckResult.PENDING, 0),
                    "confirmed": counts[c.pk].get(BackCheckResult.CONFIRMED, 0),
                    "differs": counts[c.pk].get(BackCheckResult.DIFFERS, 0),
                    "unreachable": counts[c.pk].get(BackCheckResult.UNREACHABLE, 0),
                }
                for c in checks
            ],
        },
        status=status,
    )


RESULT_CHOICES = [
    (BackCheckResult.CONFIRMED, gettext_lazy("Reached: confirms the visit and the answers")),
    (BackCheckResult.DIFFERS, gettext_lazy("Reached: says otherwise")),
    (BackCheckResult.UNREACHABLE, gettext_lazy("Could not be reached")),
]


@require_http_methods(["GET", "POST"])
def backcheck_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    """One back-check sample: each household to call, and what it said (kept)."""
    check = get_object_or_404(
        BackCheck.objects.select_related("campaign", "town", "drawn_by"), pk=pk
    )
    if not allowed(request.user, MenuAction.BACKCHECK, check.town):
        return refused(request, DENIED[MenuAction.BACKCHECK], check.town.path)
    typed: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        raw = request.POST.get("item", "")
        item = (
            BackCheckItem.objects.filter(backcheck=check, pk=int(raw))
            .select_related("backcheck__town")
            .first()
            if raw.isdigit()
            else None
        )
        if item is None:
            raise Http404
        typed = {
            "item": item.pk,
            "result": request.POST.get("result", ""),
            "note": request.POST.get("note", ""),
            "errors": {},
        }
        try:
            backcheck_services.backcheck_result(
                by=request.user,
                item=item,
                result=typed["result"],
                note=typed["note"],
                context=AuditContext.of(request),
            )
        except PermissionDenied as exc:
            return forbidden(request, exc)
        except ValidationError as exc:
            typed["errors"] = {k: v[0] for k, v in exc.message_dict.items()}
            status = 400
            messages.error(request, _("Nothing was saved: correct the fields marked below."))
        else:
            messages.success(request, _("The call's result is kept."))
            return redirect(reverse("menus:backcheck", args=[check.pk]) + f"#item-{item.pk}")
    items = list(
        check.items.select_related(
            "task__household", "task__assignee", "task__response__visitor", "checked_by"
        ).order_by("task__node_path", "task__household__number", "pk")
    )
    rows = []
    for item in items:
        household = item.task.household
        response = getattr(item.task, "response", None)
        mine = typed if typed.get("item") == item.pk else {}
        rows.append(
            {
                "item": item,
                "number": household.number,
                "head": mask_name(household.head_name),
                "phone": household.phone.masked if household.phone else "",
                "visitor": str(response.visitor) if response else "",
                "outcome": item.task.get_outcome_display(),
                "result": mine.get("result", "" if item.result == "pending" else item.result),
                "note": mine.get("note", item.note),
                "errors": mine.get("errors", {}),
            }
        )
    done = sum(1 for i in items if i.result != BackCheckResult.PENDING)
    return render(
        request,
        "menus/campaigns/backcheck.html",
        {
            "check": check,
            "campaign": check.campaign,
            "node": check.town,
            "crumbs": _crumbs(check.town, check.campaign, request.user),
            "rows": rows,
            "done": done,
            "choices": RESULT_CHOICES,
        },
        status=status,
    )


urlpatterns: list[URLPattern] = [
    path("places/<int:node_pk>/campaigns/", campaign_list, name="campaigns"),
    path("campaigns/<int:pk>/", campaign_detail, name="campaign"),
    path("campaigns/<int:pk>/close/", campaign_close, name="campaign_close"),
    path("campaigns/<int:pk>/places/<int:node_pk>/tasks/", campaign_tasks, name="campaign_tasks"),
    path("campaigns/<int:pk>/quality/", campaign_quality, name="campaign_quality"),
    path(
        "campaigns/<int:pk>/places/<int:node_pk>/backchecks/",
        backcheck_list,
        name="backchecks",
    ),
    path("backchecks/<int:pk>/", backcheck_detail, name="backcheck"),
]
