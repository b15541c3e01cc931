"""Contact-network pages: a place's liaisons and a household's people set by hand. Out of
scope answers 404; in scope without the role, 403."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from minqing.accounts.middleware import AuthedRequest
from minqing.contacts import selectors, services
from minqing.contacts.forms import LiaisonEditForm, LiaisonForm
from minqing.contacts.models import ContactLink, Liaison
from minqing.contacts.permissions import can_manage
from minqing.contacts.views.common import not_manager, place_node
from minqing.households.models import Household
from minqing.households.selectors import household_for_page
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied
from minqing.lib.forms import add_errors
from minqing.lib.views import forbidden
from minqing.org.models import Level
from minqing.org.selectors import breadcrumbs

#: Places whose liaisons are listed; liaisons are added at a village or below.
LIAISON_LEVELS = (Level.TOWN, Level.VILLAGE, Level.AREA, Level.GRID)
ADD_LEVELS = (Level.VILLAGE, Level.AREA, Level.GRID)


# --------------------------------------------------------------------------- liaisons


@require_GET
def liaison_list(request: AuthedRequest, node_pk: int) -> HttpResponse:
    """联系人 — who answers for the place's households, by kind, with load against capacity."""
    node = place_node(request, node_pk, LIAISON_LEVELS)
    groups, retired = selectors.liaisons_by_kind(node)
    return render(
        request,
        "contacts/liaisons.html",
        {
            "node": node,
            "crumbs": breadcrumbs(node, request.user),
            "groups": groups,
            "retired": retired,
            "can_manage": can_manage(request.user, node),
            "can_add": node.level in ADD_LEVELS,
            "show_village": node.level == Level.TOWN,
        },
    )


def liaison_add(request: AuthedRequest, node_pk: int) -> HttpResponse:
    """Add a liaison from a resident of the village (found by name) or from an account holding
    a role there; a party member's record suggests the category."""
    node = place_node(request, node_pk, ADD_LEVELS)
    if not can_manage(request.user, node):
        return not_manager(request)
    village = selectors.village_of(node)
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
                        context=AuditContext.of(request),
                    )
                except ValidationError as exc:
                    add_errors(form, exc)
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


def _liaison(request: AuthedRequest, pk: int) -> Liaison:
    return get_object_or_404(
        Liaison.objects.visible_to(request.user).select_related("node", "village"), pk=pk
    )


def liaison_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    liaison = _liaison(request, pk)
    if not can_manage(request.user, liaison.node):
        return not_manager(request)
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
                    context=AuditContext.of(request),
                )
            except ValidationError as exc:
                add_errors(form, exc)
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


def liaison_retire(request: AuthedRequest, pk: int) -> HttpResponse:
    """Confirm, then retire: hand-set links end now, the rest move at the next run."""
    liaison = _liaison(request, pk)
    if not can_manage(request.user, liaison.node):
        return not_manager(request)
    current = ContactLink.objects.current().filter(liaison=liaison)
    if request.method == "POST":
        try:
            ended = services.liaison_retire(
                by=request.user, liaison=liaison, context=AuditContext.of(request)
            )
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
def link_set(request: AuthedRequest, household_pk: int) -> HttpResponse:
    """Put the household with a person by hand ("1+1" pairing with a cadre, or an override)."""
    try:
        household = household_for_page(request.user, household_pk)
    except Household.DoesNotExist:
        raise Http404 from None
    if not can_manage(request.user, household.node):
        return not_manager(request)
    try:
        liaison = Liaison.objects.visible_to(request.user).get(pk=int(request.POST["liaison"]))
    except (KeyError, ValueError, Liaison.DoesNotExist):
        messages.error(request, _("Choose the person who should look after the household."))
        return _back_to(household.pk)
    try:
        services.link_set(
            by=request.user, household=household, liaison=liaison, context=AuditContext.of(request)
        )
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
def link_release(request: AuthedRequest, pk: int) -> HttpResponse:
    """Give a hand-set link back to the engine: the next run may move the household."""
    link = get_object_or_404(
        ContactLink.objects.visible_to(request.user)
        .current()
        .select_related("household", "household__node", "liaison"),
        pk=pk,
    )
    if not can_manage(request.user, link.household.node):
        return not_manager(request)
    try:
        services.link_release(by=request.user, link=link, context=AuditContext.of(request))
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
