"""Registration (登记) with similar issues and the category guess while the reporter types,
and attaching a household to an existing issue (反映同一问题)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms import ModelChoiceField
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from minqing.accounts.middleware import AuthedRequest
from minqing.households.models import Household
from minqing.issues import categorise, forms, permissions, services, similarity
from minqing.issues.models import Category, Issue
from minqing.issues.photos import photo_add
from minqing.issues.views.common import int_or_404, issue_or_404
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied
from minqing.lib.forms import add_errors
from minqing.lib.views import forbidden
from minqing.org.models import Node
from minqing.org.selectors import breadcrumbs
from minqing.org.views import scoped_node


def _register_place(request: AuthedRequest) -> tuple[Node, Household | None]:
    household = None
    if request.GET.get("household"):
        household = get_object_or_404(
            Household.objects.visible_to(request.user).select_related("node", "village"),
            pk=int_or_404(request.GET["household"]),
        )
        return household.node, household
    if request.GET.get("node"):
        return scoped_node(request, int_or_404(request.GET["node"])), None
    raise Http404


def register(request: AuthedRequest) -> HttpResponse:
    """登记 — from a household page (?household=) or a place (?node=)."""
    node, household = _register_place(request)
    if not permissions.can_register_at(request.user, node.path):
        return forbidden(request, _("You can register issues only in the places you look after."))
    form = _register_form(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                issue = services.issue_register(
                    by=request.user,
                    node=node,
                    household=household,
                    context=AuditContext.of(request),
                    **{k: data[k] for k in _REGISTER_FIELDS},
                )
                if data.get("photo"):
                    photo_add(
                        by=request.user,
                        issue=issue,
                        data=data["photo"],
                        context=AuditContext.of(request),
                    )
        except ValidationError as exc:
            add_errors(form, exc)
            status = 400
        except PermissionDenied as exc:
            return forbidden(request, exc)
        else:
            messages.success(request, _("Issue registered."))
            return redirect("issues:detail", pk=issue.pk)
    elif request.method == "POST":
        status = 400
    similar = _similar_for_form(request, node, form) if request.method == "POST" else []
    return render(
        request,
        "issues/register.html",
        {
            "form": form,
            "node": node,
            "household": household,
            "crumbs": breadcrumbs(node, request.user),
            "similar": similar,
            "guessed": _guessed_category(request.POST) if request.method == "POST" else None,
        },
        status=status,
    )


def _register_form(*args: Any) -> forms.RegisterForm:
    """The registration form with no category chosen until the reporter (or the guess) does."""
    form = forms.RegisterForm(*args)
    category = form.fields["category"]
    assert isinstance(category, ModelChoiceField)  # declared so in RegisterForm
    category.empty_label = _("Choose a category")
    return form


def _guessed_category(data: Any) -> Category | None:
    """The category the page last guessed (kept in a hidden field to tell it from a choice)."""
    value = str(data.get("category_guessed", ""))
    return Category.objects.filter(pk=int(value), active=True).first() if value.isdigit() else None


_REGISTER_FIELDS = (
    "colour",
    "category",
    "description",
    "resolution",
    "complexity",
    "source",
    "title",
    "reporter_name",
    "reporter_phone",
    "reporter_words",
)


def _similar_for_form(request: AuthedRequest, node: Node, form: Any) -> list[Any]:
    text = str(form.data.get("description", "")).strip()
    if len(text) < 2:
        return []
    village, town = services.place_of(node)
    category = int_or_404(form.data.get("category")) if form.data.get("category") else None
    found = similarity.similar_issues(
        text=text,
        category_id=category,
        village_id=village.pk,
        town_id=(town or village).pk,
    )
    by_id = Issue.objects.visible_to(request.user).in_bulk([s.issue_id for s in found])
    return [(s, by_id[s.issue_id]) for s in found if s.issue_id in by_id]


@require_GET
def similar_check(request: AuthedRequest) -> HttpResponse:
    """htmx: similar open issues while the reporter types (same village first, then nearby)."""
    node, household = _register_place(request)
    if not permissions.can_register_at(request.user, node.path):
        raise Http404
    form = _register_form(request.GET)
    return render(
        request,
        "issues/_similar.html",
        {
            "similar": _similar_for_form(request, node, form),
            "household": household,
            **_category_guess(request, node, form),
        },
    )


def _category_guess(request: AuthedRequest, node: Node, form: Any) -> dict[str, Any]:
    """While the reporter types: guess the category from the text, unless they chose one.

    The page keeps the last guess in ``category_guessed``: a category equal to it (or none) was
    not chosen by the reporter, so a new guess may replace it. The answer carries the select
    again (an out-of-band swap) only when the guess applies.
    """
    chosen = str(request.GET.get("category", ""))
    guessed = str(request.GET.get("category_guessed", ""))
    if chosen and chosen != guessed:
        return {}
    text = str(request.GET.get("description", "")).strip()
    village, town = services.place_of(node)
    guess = categorise.guess_category(text, town_id=(town or village).pk, village_id=village.pk)
    if str(guess or "") == chosen:
        return {}
    data = request.GET.copy()
    data["category"] = str(guess or "")
    return {
        "guess_form": _register_form(data),
        "guessed": Category.objects.filter(pk=guess).first() if guess else None,
        "swap_category": True,
    }


def attach(request: AuthedRequest, pk: int) -> HttpResponse:
    """反映同一问题 — the household (?household=) joins an existing issue as a reporter."""
    issue = issue_or_404(request, pk)
    household = None
    if request.GET.get("household"):
        household = get_object_or_404(
            Household.objects.visible_to(request.user), pk=int_or_404(request.GET["household"])
        )
    form = forms.AttachForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.issue_add_reporter(
                by=request.user,
                issue=issue,
                household=household,
                context=AuditContext.of(request),
                **form.cleaned_data,
            )
        except ValidationError as exc:
            add_errors(form, exc)
            status = 409 if isinstance(exc, services.IllegalTransition) else 400
        except PermissionDenied as exc:
            return forbidden(request, exc)
        else:
            messages.success(request, _("Added as a reporter of this issue."))
            return redirect("issues:detail", pk=issue.pk)
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "issues/attach.html",
        {"issue": issue, "household": household, "form": form},
        status=status,
    )
