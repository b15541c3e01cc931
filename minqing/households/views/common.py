"""What the household pages share: fetching in scope, running a service for a form, and the
stale-edit helpers of the three edit pages."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from minqing.accounts.middleware import AuthedRequest
from minqing.households import selectors, services
from minqing.households.errors import HouseholdErrorCode
from minqing.households.models import Household, Resident
from minqing.households.selectors import HouseholdShown
from minqing.lib.errors import PermissionDenied, StaleEdit
from minqing.lib.forms import add_errors
from minqing.lib.views import forbidden


def household_or_404(request: AuthedRequest, pk: int) -> Household:
    try:
        return selectors.household_for_page(request.user, pk)
    except Household.DoesNotExist:
        raise Http404 from None


def resident_or_404(request: AuthedRequest, pk: int) -> Resident:
    return get_object_or_404(
        Resident.objects.visible_to(request.user).select_related(
            "household", "household__node", "household__village"
        ),
        pk=pk,
    )


def submit(
    request: HttpRequest,
    form: Any,
    run: Any,
    *,
    success: str,
    done: Any,
    version_now: Any = None,
) -> HttpResponse | int:
    """Run a service for a valid form: the redirect on success, a 403 page, or the status to
    re-render the form with (200 with field errors, 409 for a stale edit, 400 for an edit that
    names no version) — input kept. Refused for want of a version, the form comes back with
    the record's version now, so saving again is a decision taken over the record as it is."""
    try:
        run()
    except StaleEdit:
        form.add_error(None, StaleEdit.message)
        return 409
    except ValidationError as exc:
        if (
            getattr(exc, "code", None) == HouseholdErrorCode.VERSION_MISSING
            and version_now is not None
        ):
            form.add_error(None, exc.messages)
            set_posted(form, "version", version_now())
            return 400
        add_errors(form, exc)
        return 200
    except PermissionDenied as exc:
        return forbidden(request, exc)
    messages.success(request, success)
    return redirect(*done())


def set_posted(form: Any, name: str, value: Any) -> None:
    """Change one posted value of a bound form before it is shown again."""
    data = form.data.copy()
    data[name] = "" if value is None else str(value)
    form.data = data


def form_page(
    request: HttpRequest, form: Any, outcome: HttpResponse | int, **context: Any
) -> HttpResponse:
    if isinstance(outcome, HttpResponse):
        return outcome
    return render(request, "households/form.html", {"form": form, **context}, status=outcome)


def keep_blank_sensitive(
    data: dict[str, Any], fields: frozenset[str] = services.SENSITIVE_FIELDS
) -> dict[str, Any]:
    """A blank sensitive field means "keep what is recorded": forms never pre-fill them."""
    return {k: v for k, v in data.items() if not (k in fields and not v)}


def mask_conflicts(conflicts: list[selectors.Conflict], shown: HouseholdShown) -> None:
    """Both sides of a conflict as the editor may read them (children's names masked)."""
    for conflict in conflicts:
        conflict.theirs, conflict.yours = shown.text(conflict.theirs), shown.text(conflict.yours)


def choices_applied(post: Any, put: Any) -> Any:
    """The posted form with the editor's conflict choices applied: ``put(data, name)`` puts
    the recorded value for each "theirs"; ``resolve_all`` chooses for every field."""
    wanted = {k[len("resolve_") :]: v for k, v in post.items() if k.startswith("resolve_")}
    every = wanted.pop("all", "")
    if not wanted:
        return post
    data = post.copy()
    for name, choice in wanted.items():
        if (every or choice) == "theirs":
            put(data, name)
        del data["resolve_" + name]
    data.pop("resolve_all", None)
    return data
