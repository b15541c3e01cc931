"""Contact-network pages: a place's liaisons, a household's people set by hand, assignment runs
and the county's rules. Out of scope answers 404; in scope without the role, 403."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from minqing.contacts import selectors_manage as selectors
from minqing.contacts import services
from minqing.contacts.forms import LiaisonEditForm, LiaisonForm
from minqing.contacts.models import (
    AssignmentRun,
    ContactLink,
    Liaison,
    LiaisonKind,
    RunStatus,
)
from minqing.households.models import Household
from minqing.households.selectors import household_for_page
from minqing.lib.errors import PermissionDenied
from minqing.lib.views import forbidden
from minqing.org.models import Level, Node
from minqing.org.selectors import breadcrumbs
from minqing.org.views import scoped_node

#: Places whose liaisons are listed; liaisons are added at a village or below.
LIAISON_LEVELS = (Level.TOWN, Level.VILLAGE, Level.AREA, Level.GRID)
ADD_LEVELS = (Level.VILLAGE, Level.AREA, Level.GRID)
#: Places that have assignment runs: a village, a town inline, a county through the worker.
RUN_LEVELS = (Level.COUNTY, Level.TOWN, Level.VILLAGE)


def _node(request: HttpRequest, pk: int, levels: tuple[str, ...]) -> Node:
    node = scoped_node(request, pk)
    if node.level not in levels:
        raise Http404
    return node


def _not_manager(request: HttpRequest) -> HttpResponse:
    return forbidden(request, _("Only cadres of this place may change who looks after it."))


def _file_errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


# --------------------------------------------------------------------------- liaisons


@require_GET
def liaison_list(request: HttpRequest, node_pk: int) -> HttpResponse:
    """联系人 — who answers for the place's households, by kind, with load against capacity."""
    node = _node(request, node_pk, LIAISON_LEVELS)
    groups, retired = selectors.liaisons_by_kind(node)
    return render(
        request,
        "contacts/liaisons.html",
        {
            "node": node,
            "crumbs": breadcrumbs(node, request.user),
            "groups": groups,
            "retired": retired,
            "can_manage": services.can_manage(request.user, node),
            "can_add": node.level in ADD_LEVELS,
            "show_village": node.level == Level.TOWN,
        },
    )


def liaison_add(request: HttpRequest, node_pk: int) -> HttpResponse:
    """Add a liaison from a resident of the village (found by name) or from an account holding
    a role there; a party member's record suggests the category."""
    node = _node(request, node_pk, ADD_LEVELS)
    if not services.can_manage(request.user, node):
        return _not_manager(request)
    village = services.village_of(node)
    source = request.POST if request.method == "POST" else request.GET
    resident = selectors.resident_in(village, source.get("resident"))
    account = None if resident else selectors.account_in(village, source.get("user"))
    suggestion = selectors.suggest_for_resident(resident) if resident else None
    initial: dict[str, Any] = {"node": resident.household.node_id if resident else node.pk}
    if resident and suggestion:
        initial |= {"resident": resident.pk, "kind": suggestion.kind}
        initial |= {"category": suggestion.category, "name": resident.name}
    elif account:
        initial |= {"user": account.pk, "name": str(account)}
        initial["kind"] = selectors.suggest_for_account(account, village)
    form = LiaisonForm(request.POST or None, village=village, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            if (data["resident"] and resident is None) or (data["user"] and account is None):
                form.add_error(None, _("Choose a person of this village."))
            else:
                try:
                    liaison = services.liaison_add(
                        by=request.user,
                        node=data["node"],
                        kind=data["kind"],
                        name=data["name"],
                        phone=data["phone"],
                        user=account,
                        resident=resident,
                        category=data["category"],
                        capacity=data["capacity"],
                        request=request,
                    )
                except ValidationError as exc:
                    _file_errors(form, exc)
                except PermissionDenied as exc:
                    return forbidden(request, exc)
                else:
                    messages.success(
                        request,
                        _("%(name)s now takes households as %(kind)s.")
                        % {"name": liaison.name, "kind": liaison.get_kind_display()},
                    )
                    return redirect("contacts:liaisons", node_pk=village.pk)
    query = request.GET.get("q", "").strip()[:50]
    return render(
        request,
        "contacts/liaison_add.html",
        {
            "node": node,
            "village": village,
            "crumbs": breadcrumbs(node, request.user),
            "form": form,
            "query": query,
            "found": selectors.resident_candidates(village, query) if query else [],
            "accounts": selectors.account_candidates(village),
            "resident": resident,
            "account": account,
            "suggestion": suggestion,
        },
        status=status,
    )


def _liaison(request: HttpRequest, pk: int) -> Liaison:
    return get_object_or_404(
        Liaison.objects.visible_to(request.user).select_related("node", "village"), pk=pk
    )


def liaison_edit(request: HttpRequest, pk: int) -> HttpResponse:
    liaison = _liaison(request, pk)
    if not services.can_manage(request.user, liaison.node):
        return _not_manager(request)
    initial = {"node": liaison.node_id, "category": liaison.category, "capacity": liaison.capacity}
    form = LiaisonEditForm(request.POST or None, village=liaison.village, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.liaison_update(
                    by=request.user,
                    liaison=liaison,
                    category=form.cleaned_data["category"],
                    capacity=form.cleaned_data["capacity"],
                    node=form.cleaned_data["node"],
                    request=request,
                )
            except ValidationError as exc:
                _file_errors(form, exc)
            except PermissionDenied as exc:
                return forbidden(request, exc)
            else:
                messages.success(request, _("Saved."))
                return redirect("contacts:liaisons", node_pk=liaison.village_id)
    return render(
        request,
        "contacts/liaison_edit.html",
        {
            "liaison": liaison,
            "crumbs": breadcrumbs(liaison.village, request.user),
            "form": form,
        },
        status=status,
    )


def liaison_retire(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm, then retire: hand-set links end now, the rest move at the next run."""
    liaison = _liaison(request, pk)
    if not services.can_manage(request.user, liaison.node):
        return _not_manager(request)
    current = ContactLink.objects.current().filter(liaison=liaison)
    if request.method == "POST":
        try:
            ended = services.liaison_retire(by=request.user, liaison=liaison, request=request)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        except PermissionDenied as exc:
            return forbidden(request, exc)
        else:
            messages.success(
                request,
                ngettext(
                    "%(name)s no longer takes households; %(n)d hand-set link ended. The next "
                    "assignment run gives their households to others.",
                    "%(name)s no longer takes households; %(n)d hand-set links ended. The next "
                    "assignment run gives their households to others.",
                    ended,
                )
                % {"name": liaison.name, "n": ended},
            )
        return redirect("contacts:liaisons", node_pk=liaison.village_id)
    return render(
        request,
        "contacts/liaison_retire.html",
        {
            "liaison": liaison,
            "crumbs": breadcrumbs(liaison.village, request.user),
            "load": current.count(),
            "manual": current.filter(manual=True).count(),
        },
    )


# --------------------------------------------------------------------------- a household's links


def _back_to(household_pk: int) -> HttpResponse:
    return redirect(reverse("households:detail", args=[household_pk]) + "#contacts")


@require_POST
def link_set(request: HttpRequest, household_pk: int) -> HttpResponse:
    """Put the household with a person by hand ("1+1" pairing with a cadre, or an override)."""
    try:
        household = household_for_page(request.user, household_pk)
    except Household.DoesNotExist:
        raise Http404 from None
    if not services.can_manage(request.user, household.node):
        return _not_manager(request)
    try:
        liaison = Liaison.objects.visible_to(request.user).get(pk=int(request.POST["liaison"]))
    except (KeyError, ValueError, Liaison.DoesNotExist):
        messages.error(request, _("Choose the person who should look after the household."))
        return _back_to(household.pk)
    try:
        services.link_set(by=request.user, household=household, liaison=liaison, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except PermissionDenied as exc:
        return forbidden(request, exc)
    else:
        messages.success(
            request,
            _("%(name)s now looks after this household as %(kind)s, set by hand.")
            % {"name": liaison.name, "kind": liaison.get_kind_display()},
        )
    return _back_to(household.pk)


@require_POST
def link_release(request: HttpRequest, pk: int) -> HttpResponse:
    """Give a hand-set link back to the engine: the next run may move the household."""
    link = get_object_or_404(
        ContactLink.objects.visible_to(request.user)
        .current()
        .select_related("household", "household__node", "liaison"),
        pk=pk,
    )
    if not services.can_manage(request.user, link.household.node):
        return _not_manager(request)
    try:
        services.link_release(by=request.user, link=link, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except PermissionDenied as exc:
        return forbidden(request, exc)
    else:
        messages.success(
            request,
            _(
                "%(name)s stays until the next assignment run, which may give the household "
                "to someone else."
            )
            % {"name": link.liaison.name},
        )
    return _back_to(link.household_id)


# --------------------------------------------------------------------------- runs


def shortage_text(shortage: dict[str, Any]) -> str:
    """王庄村 lacks 2 group leaders for 150 households."""
    people = shortage["people"]
    kind = shortage["kind"]
    kinds = {
        LiaisonKind.GROUP_LEADER: ngettext("%(n)d group leader", "%(n)d group leaders", people),
        LiaisonKind.REPRESENTATIVE: ngettext(
            "%(n)d representative", "%(n)d representatives", people
        ),
        LiaisonKind.PARTY_MEMBER: ngettext("%(n)d party member", "%(n)d party members", people),
        LiaisonKind.CADRE: ngettext("%(n)d cadre", "%(n)d cadres", people),
    }
    who = kinds.get(kind, "%(n)d") % {"n": people}
    return ngettext(
        "%(place)s lacks %(who)s for %(n)d household",
        "%(place)s lacks %(who)s for %(n)d households",
        shortage["households"],
    ) % {"place": shortage["name"], "who": who, "n": shortage["households"]}


def run_outcome(run: AssignmentRun) -> tuple[str, str]:
    """A one-line verdict on a finished run and its tone ("success", "warning", "error")."""
    result = run.result or {}
    if run.status == RunStatus.FAILED:
        return "error", _("The run stopped with an error; villages done before it keep theirs.")
    if run.status != RunStatus.DONE:
        return "info", ""
    if "kinds" in result and not result["kinds"]:
        return "warning", _(
            "Nothing could be assigned: no kind of liaison is in use in the county's rules."
        )
    changed = result.get("assigned", 0)
    left = result.get("unassigned", 0)
    if not changed and left:
        return "warning", ngettext(
            "Nothing could be assigned: no liaison can take the %(n)d household without one. "
            "Add liaisons or raise their capacity, then run again.",
            "Nothing could be assigned: no liaison can take the %(n)d households without one. "
            "Add liaisons or raise their capacity, then run again.",
            left,
        ) % {"n": left}
    if not changed and not result.get("kept") and not result.get("manual"):
        return "warning", _("Nothing could be assigned: there are no households here.")
    if not changed:
        return "success", _("Nothing to change: every household has its people already.")
    done = ngettext("%(n)d household assigned.", "%(n)d households assigned.", changed) % {
        "n": changed
    }
    if not left:
        return "success", done
    return "warning", done + " " + _("Left without a liaison: %(n)d — see the shortages.") % {
        "n": left
    }


def _runs_context(request: HttpRequest, node: Node) -> dict[str, Any]:
    runs = selectors.runs_of(node)
    for run in runs:
        run.tone, run.verdict = run_outcome(run)
        run.shortage_lines = [shortage_text(s) for s in (run.result or {}).get("shortages", [])]
    return {
        "node": node,
        "runs": runs,
        "active": next((r for r in runs if r.is_active), None),
    }


@require_GET
def run_list(request: HttpRequest, node_pk: int) -> HttpResponse:
    """一次分配 — start a run and read the last ones: counts, shortages, what went wrong."""
    node = _node(request, node_pk, RUN_LEVELS)
    context = _runs_context(request, node)
    if request.headers.get("HX-Request"):  # the list refreshing itself while a run waits
        return render(request, "contacts/run_list.html", context)
    return render(
        request,
        "contacts/runs.html",
        {
            **context,
            "crumbs": breadcrumbs(node, request.user),
            "can_manage": services.can_manage(request.user, node),
            "queued": node.level == Level.COUNTY,
            "can_edit_rules": services.can_edit_rules(request.user, services.county_of(node)),
        },
    )


@require_POST
def run_start(request: HttpRequest, node_pk: int) -> HttpResponse:
    node = _node(request, node_pk, RUN_LEVELS)
    if not services.can_manage(request.user, node):
        return _not_manager(request)
    try:
        run, started = services.assign_start(node=node, by=request.user, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except PermissionDenied as exc:
        return forbidden(request, exc)
    else:
        if not started:
            messages.info(
                request,
                _("A run of this place is already waiting or running; no second one was started."),
            )
        elif run.status == RunStatus.QUEUED:
            messages.success(
                request,
                _(
                    "The run is queued: the background worker does it, and this page shows the "
                    "result when it is done."
                ),
            )
        else:
            tone, verdict = run_outcome(run)
            getattr(messages, tone)(request, verdict)
    return redirect("contacts:runs", node_pk=node.pk)
