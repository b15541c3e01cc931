"""Pages of the visit cadence: quota rules, compliance by person/grid/village, household
events (三必报、四必到) and holiday campaigns."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from minqing.accounts.middleware import AuthedRequest
from minqing.contacts.models import Liaison, LiaisonKind
from minqing.households.models import Household, HouseholdTag
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied, StaleEdit
from minqing.lib.views import forbidden
from minqing.org.models import Level, Node
from minqing.org.selectors import breadcrumbs
from minqing.org.views import scoped_node
from minqing.visits import selectors
from minqing.visits.models import MAX_LOOKBACK_DAYS, EventKind, Period, QuotaRule
from minqing.visits.selectors import compliance
from minqing.visits.services import cadence, events, quotas

# --------------------------------------------------------------------------- quota rules


class QuotaForm(forms.Form):
    """One quota rule as typed; the service checks the values (its messages are the page's)."""

    kind = forms.ChoiceField(
        label=gettext_lazy("Who"), choices=[("", "—"), *LiaisonKind.choices], required=False
    )
    period = forms.ChoiceField(label=gettext_lazy("Per"), choices=Period.choices)
    count = forms.IntegerField(label=gettext_lazy("At least"), required=False, min_value=0)
    per_household = forms.BooleanField(
        label=gettext_lazy("for each linked household"), required=False
    )
    home_only = forms.BooleanField(label=gettext_lazy("home visits only"), required=False)
    active = forms.BooleanField(label=gettext_lazy("in use"), required=False)
    delete = forms.BooleanField(label=gettext_lazy("remove"), required=False)

    def row(self, rule_id: int | None) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "id": rule_id,
            "kind": data["kind"],
            "period": data["period"],
            "count": data["count"],
            "per_household": data["per_household"],
            "home_only": data["home_only"],
            "active": data["active"],
            "delete": data["delete"],
        }

    @property
    def is_blank(self) -> bool:
        return not self.cleaned_data.get("kind")


def _county(node: Node) -> Node:
    county = node if node.level == Level.COUNTY else Node.objects.county_on_path(node.path)
    if county is None:
        raise Http404
    return county


@require_http_methods(["GET", "POST"])
def quota_rules(request: AuthedRequest, node_pk: int) -> HttpResponse:
    """走访频次 — the county's visit quotas: the command centre edits, others in scope read.

    One form for every rule: on any error nothing is saved and each field keeps what was typed.
    """
    county = _county(scoped_node(request, node_pk))
    editable = quotas.can_edit(request.user, county)
    if request.method == "POST" and not editable:
        return forbidden(request, _("Only the county command centre sets the visit quotas."))
    cadence.quotas_for(county)  # the defaults, the first time
    lookback = {"value": cadence.settings_for(county).lookback_days, "error": ""}
    rules = list(QuotaRule.objects.filter(county=county).order_by("kind", "period", "id"))
    data = request.POST if request.method == "POST" else None
    status = 200
    if data is not None and data.get("form") == "lookback":
        # The look-back has its own small form (and button) on the page.
        typed = data.get("lookback_days", "").strip()
        try:
            changed = quotas.lookback_save(
                by=request.user,
                county=county,
                days=int(typed) if typed.isdigit() else typed,
                context=AuditContext.of(request),
            )
        except PermissionDenied as exc:
            return forbidden(request, exc)
        except ValidationError as exc:
            lookback = {"value": typed, "error": exc.message_dict["lookback_days"][0]}
            status = 400
            data = None  # the quota rules below are shown as saved
        else:
            messages.success(
                request,
                _("Visits may now be recorded up to %(n)d days back.") % {"n": int(typed)}
                if changed
                else _("Nothing changed."),
            )
            return redirect("visits:quotas", node_pk=county.pk)
    rule_forms = [
        (
            rule,
            QuotaForm(
                data,
                prefix=f"r{rule.pk}",
                initial={
                    "kind": rule.kind,
                    "period": rule.period,
                    "count": rule.count,
                    "per_household": rule.per_household,
                    "home_only": rule.home_only,
                    "active": rule.active,
                },
            ),
        )
        for rule in rules
    ]
    new = QuotaForm(
        data, prefix="new", initial={"period": Period.MONTH, "per_household": True, "active": True}
    )
    stamp = request.POST.get("stamp", "") if data is not None else quotas.quotas_stamp(county)
    if data is not None:
        status = 400
        if all(f.is_valid() for _r, f in rule_forms) and new.is_valid():
            rows = {str(f.prefix): f.row(r.pk) for r, f in rule_forms}
            if not new.is_blank:
                rows["new"] = new.row(None)
            try:
                changes = quotas.quotas_save(
                    by=request.user,
                    county=county,
                    rows=rows,
                    base_stamp=stamp,
                    context=AuditContext.of(request),
                )
            except StaleEdit:
                messages.error(request, str(StaleEdit.message))
                status = 409
            except PermissionDenied as exc:
                return forbidden(request, exc)
            except ValidationError as exc:
                by_prefix = {f.prefix: f for _r, f in rule_forms} | {"new": new}
                for key, msgs in exc.message_dict.items():
                    prefix, _dot, name = key.partition(".")
                    form = by_prefix.get(prefix)
                    for msg in msgs:
                        if form is not None and name in form.fields:
                            form.add_error(name, msg)
                        else:
                            messages.error(request, msg)
                messages.error(request, _("Nothing was saved: correct the fields marked below."))
            else:
                messages.success(request, _("Quotas saved.") if changes else _("Nothing changed."))
                return redirect("visits:quotas", node_pk=county.pk)
        else:
            messages.error(request, _("Nothing was saved: correct the fields marked below."))
    return render(
        request,
        "visits/quota_rules.html",
        {
            "county": county,
            "crumbs": breadcrumbs(county, request.user),
            "rule_forms": rule_forms,
            "new": new,
            "stamp": stamp,
            "editable": editable,
            "lookback": lookback,
            "max_lookback": MAX_LOOKBACK_DAYS,
        },
        status=status,
    )


# --------------------------------------------------------------------------- compliance

COMPLIANCE_LEVELS = (Level.COUNTY, Level.TOWN, Level.VILLAGE, Level.AREA, Level.GRID)
#: A town has thousands of liaisons: its page lists the lowest rates; a village lists everyone.
PEOPLE_SHOWN = 200


def _window_choices(current: str) -> list[tuple[str, str, bool]]:
    return [(k, str(label), k == current) for k, label in compliance.WINDOW_LABELS.items()]


@require_GET
def compliance_page(request: HttpRequest, node_pk: int) -> HttpResponse:
    """走访达标 — quotas kept by person, grid and village for a week or a month."""
    node = scoped_node(request, node_pk)
    if node.level not in COMPLIANCE_LEVELS:
        raise Http404
    if not compliance.can_view(request.user, node):
        return forbidden(request, _("Only cadres and grid workers of this place see this."))
    report = compliance.compliance(node, request.GET.get("period", "month"))
    return render(
        request,
        "visits/compliance.html",
        {
            "node": node,
            "crumbs": [
                c for c in breadcrumbs(node, request.user)[:-1] if c.level in COMPLIANCE_LEVELS
            ],
            "report": report,
            "people": report.people[:PEOPLE_SHOWN],
            "windows": _window_choices(report.window.key),
            "show_grids": node.level in (Level.TOWN, Level.VILLAGE, Level.AREA),
            "show_villages": node.level in (Level.COUNTY, Level.TOWN),
        },
    )


@require_GET
def liaison_due(request: HttpRequest, pk: int) -> HttpResponse:
    """One person's households: overdue, due and done for the window."""
    liaison = get_object_or_404(
        Liaison.objects.visible_to(request.user)
        .filter(user__isnull=False)
        .select_related("node", "village"),
        pk=pk,
    )
    if not compliance.can_view(request.user, liaison.node):
        return forbidden(request, _("Only cadres and grid workers of this place see this."))
    window, rules, rows = compliance.person_households(
        liaison, request.user, request.GET.get("period", "month")
    )
    counts = {s: sum(1 for r in rows if r.status == s) for s in ("overdue", "due", "done", "new")}
    return render(
        request,
        "visits/compliance_person.html",
        {
            "liaison": liaison,
            "crumbs": [
                c for c in breadcrumbs(liaison.node, request.user) if c.level in COMPLIANCE_LEVELS
            ],
            "window": window,
            "windows": _window_choices(window.key),
            "rules": rules,
            "rows": rows,
            "counts": counts,
        },
    )


# --------------------------------------------------------------------------- events


def _event_values(post: Any) -> dict[str, str]:
    return {k: post.get(k, "").strip() for k in ("client_uuid", "kind", "occurred_on", "note")}


@require_http_methods(["GET", "POST"])
def event_new(request: AuthedRequest, household_pk: int) -> HttpResponse:
    """三必报、四必到 — record what happened to a household (the form sits on its page)."""
    household = get_object_or_404(
        Household.objects.visible_to(request.user).select_related("node"), pk=household_pk
    )
    values = {
        "client_uuid": str(uuid.uuid4()),
        "kind": "",
        "occurred_on": timezone.localdate().isoformat(),
        "note": "",
    }
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = _event_values(request.POST)
        try:
            client_uuid = uuid.UUID(values["client_uuid"])
        except ValueError:
            client_uuid = None
        try:
            occurred_on = dt.date.fromisoformat(values["occurred_on"])
        except ValueError:
            occurred_on = None
        try:
            recorded = events.event_record(
                by=request.user,
                household_id=household.pk,
                kind=values["kind"],
                occurred_on=occurred_on,
                note=values["note"],
                client_uuid=client_uuid,
                context=AuditContext.of(request),
            )
        except Household.DoesNotExist:
            raise Http404 from None
        except ValidationError as exc:
            errors, status = exc.message_dict, 400
        else:
            if recorded.task is not None:
                messages.success(
                    request,
                    _("Recorded. The household must be visited by %(date)s.")
                    % {"date": recorded.task.due_on.isoformat()},
                )
            else:
                messages.success(request, _("Recorded and reported to the village."))
            return redirect(reverse("households:detail", args=[household.pk]) + "#events")
    return render(
        request,
        "visits/event_form.html",
        {
            "household": household,
            "crumbs": breadcrumbs(household.node, request.user),
            "values": values,
            "errors": errors,
            "kinds": [(k.value, k.label) for k in events.FORM_KINDS],
            "today": timezone.localdate().isoformat(),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
def campaigns(request: AuthedRequest, node_pk: int) -> HttpResponse:
    """节日走访 — a village's holiday campaigns: start one (cadres), see their progress."""
    village = scoped_node(request, node_pk)
    if village.level != Level.VILLAGE:
        raise Http404
    if not compliance.can_view(request.user, village):
        return forbidden(request, _("Only cadres and grid workers of this place see this."))
    can_start = events.can_run_campaign(request.user, village)
    values: dict[str, Any] = {"title": "", "tags": [], "due_on": ""}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        if not can_start:
            return forbidden(
                request, _("Only cadres of this village, its town or the county do this.")
            )
        values = {
            "title": request.POST.get("title", "").strip(),
            "tags": request.POST.getlist("tags"),
            "due_on": request.POST.get("due_on", "").strip(),
        }
        try:
            due_on = dt.date.fromisoformat(values["due_on"])
        except ValueError:
            due_on = None
        try:
            started = events.campaign_start(
                by=request.user,
                village=village,
                title=values["title"],
                tag_codes=values["tags"],
                due_on=due_on,
                context=AuditContext.of(request),
            )
        except PermissionDenied as exc:
            return forbidden(request, exc)
        except ValidationError as exc:
            errors, status = exc.message_dict, 400
        else:
            messages.success(
                request,
                _("%(title)s: %(added)d households added, %(total)d in the campaign.")
                % {
                    "title": started.campaign.title,
                    "added": started.created,
                    "total": started.households,
                },
            )
            return redirect("visits:campaigns", node_pk=village.pk)
    return render(
        request,
        "visits/event_campaigns.html",
        {
            "village": village,
            "crumbs": breadcrumbs(village, request.user),
            "campaigns": selectors.campaigns_of(village),
            "tags": HouseholdTag.objects.all(),
            "values": values,
            "errors": errors,
            "can_start": can_start,
            "holiday": EventKind.HOLIDAY.label,
        },
        status=status,
    )
