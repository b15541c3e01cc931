"""Household pages: the household page (一户一页), creating and editing a household, reveal."""

from __future__ import annotations

from typing import Any, cast

from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from minqing.accounts.middleware import AuthedRequest
from minqing.accounts.permissions import Action, refusal
from minqing.households import selectors, services
from minqing.households.forms import HouseholdForm, keep_blank_confidential, lock_child_texts
from minqing.households.models import Household, Resident
from minqing.households.selectors import HOUSEHOLD_TEXT_FIELDS, HouseholdShown
from minqing.households.views.common import (
    form_page,
    household_or_404,
    keep_blank_sensitive,
    mask_conflicts,
    resident_or_404,
    submit,
)
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied
from minqing.lib.views import forbidden
from minqing.org.selectors import breadcrumbs, village_of
from minqing.org.views import scoped_node


def household_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    household = household_or_404(request, pk)
    shown = HouseholdShown(request.user, household)
    return render(
        request,
        "households/detail.html",
        {
            "household": household,
            "members": shown.members,
            "shown": shown,
            "crumbs": breadcrumbs(household.node, request.user),
            "changes": selectors.household_changes(household),
        },
    )


def household_create(request: AuthedRequest, node_pk: int) -> HttpResponse:
    node = scoped_node(request, node_pk)
    village = village_of(node)
    if village is None:
        raise Http404
    if page := refusal(request, Action.EDIT_ARCHIVE, node):
        return page
    form = HouseholdForm(request.POST or None, village=village, initial={"node": node})
    outcome: HttpResponse | int = 200
    created: list[Household] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        outcome = submit(
            request,
            form,
            lambda: created.append(
                services.household_create(
                    by=request.user,
                    node=data.get("node") or node,
                    data=data,
                    tags=list(data["tags"]),
                    context=AuditContext.of(request),
                )
            ),
            success=_("Household saved."),
            done=lambda: ("households:detail", created[0].pk),
        )
    return form_page(
        request, form, outcome, title=_("New household"), crumbs=breadcrumbs(node, request.user)
    )


def household_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    """Edit a household. A stale edit (409) shows what changed since, field by field beside
    what the editor typed, and lets them keep theirs or take the other person's without
    retyping: the page is resubmitted with the new version and one choice per field."""
    household = household_or_404(request, pk)
    if page := refusal(request, Action.EDIT_ARCHIVE, household):
        return page
    initial = {
        f: getattr(household, f)
        for f in services.HOUSEHOLD_FIELDS
        if f not in services.SENSITIVE_FIELDS
    }
    initial.update(node=household.node, tags=list(household.tags.all()), version=household.version)
    data = _resolved(request.POST, household) if request.method == "POST" else None
    form = HouseholdForm(data, village=household.village, initial=initial)
    keep_blank_confidential(form, services.SENSITIVE_FIELDS)
    shown = HouseholdShown(request.user, household)
    locked = lock_child_texts(form, household, shown, HOUSEHOLD_TEXT_FIELDS)
    outcome: HttpResponse | int = 200
    conflicts: list[selectors.Conflict] = []
    if request.method == "POST" and form.is_valid():
        cleaned = {
            k: v for k, v in keep_blank_sensitive(form.cleaned_data).items() if k not in locked
        }
        outcome = submit(
            request,
            form,
            lambda: services.household_update(
                by=request.user,
                household=household,
                data=cleaned,
                base_version=cleaned.get("version"),
                tags=list(cleaned["tags"]),
                node=cleaned.get("node"),
                context=AuditContext.of(request),
            ),
            success=_("Household saved."),
            done=lambda: ("households:detail", household.pk),
            version_now=lambda: Household.objects.get(pk=household.pk).version,
        )
        if outcome == 409:
            conflicts = selectors.stale_conflicts(
                household,
                cleaned.get("version") or 0,
                {k: v for k, v in form.cleaned_data.items() if k not in locked},
                {name: str(f.label) for name, f in form.fields.items()},
            )
            mask_conflicts(conflicts, shown)
            form = _rebased(form, household, initial, conflicts, shown)
    return form_page(
        request,
        form,
        outcome,
        title=_("Edit household %(name)s") % {"name": household.head_name},
        crumbs=breadcrumbs(household.node, request.user),
        household=household,
        conflicts=conflicts,
        both_changed=any(c.default == "mine" for c in conflicts),
        stale=outcome == 409,
    )


def _rebased(
    form: HouseholdForm,
    household: Household,
    initial: dict[str, Any],
    conflicts: list[selectors.Conflict],
    shown: HouseholdShown,
) -> HouseholdForm:
    """The editor's input again, now based on the version they have just been shown; a field
    only the other person changed takes their value (the editor's copy was the old one)."""
    data = cast(QueryDict, form.data).copy()
    data["version"] = str(household.version)
    for key in [k for k in data if k.startswith("resolve_")]:
        del data[key]
    for conflict in conflicts:
        if conflict.default == "theirs":
            _take_recorded(data, conflict.field, household)
    rebased = HouseholdForm(data, village=household.village, initial=initial)
    keep_blank_confidential(rebased, services.SENSITIVE_FIELDS)
    lock_child_texts(rebased, household, shown, HOUSEHOLD_TEXT_FIELDS)
    rebased.is_valid()
    rebased.add_error(None, STALE_MERGE)
    return rebased


def _take_recorded(data: Any, name: str, household: Household) -> None:
    """Put the recorded value of ``name`` in the posted ``data`` (a blank confidential field
    keeps the record)."""
    if name == "tags":
        data.setlist("tags", [str(t.pk) for t in household.tags.all()])
    elif name == "node":
        data["node"] = str(household.node_id)
    elif name in services.SENSITIVE_FIELDS:
        data[name] = ""
    elif name in services.HOUSEHOLD_FIELDS:
        data[name] = getattr(household, name) or ""


STALE_MERGE = gettext_lazy(
    "Someone else changed this household after you opened it. For each item they changed, "
    "choose whether to keep what you typed or take their version, then save; nothing you "
    "typed is lost."
)


def _resolved(post: Any, household: Household) -> Any:
    """The posted form with the editor's choices applied: "theirs" puts the recorded value in
    the field, "mine" leaves what they typed; ``resolve_all`` chooses for every field."""
    wanted = {k[len("resolve_") :]: v for k, v in post.items() if k.startswith("resolve_")}
    every = wanted.pop("all", "")
    if not wanted:
        return post
    data = post.copy()
    for name, choice in wanted.items():
        if (every or choice) == "theirs":
            _take_recorded(data, name, household)
    return data


@require_POST
def reveal(request: AuthedRequest, kind: str, pk: int, field: str) -> HttpResponse:
    """Show one full value (audited); answers an htmx fragment or a small page."""
    if kind not in ("household", "resident"):
        raise Http404
    obj: Household | Resident = (
        household_or_404(request, pk) if kind == "household" else resident_or_404(request, pk)
    )
    try:
        value = services.reveal(
            by=request.user, obj=obj, field=field, context=AuditContext.of(request)
        )
    except (Household.DoesNotExist, Resident.DoesNotExist):
        raise Http404 from None
    except ValidationError:
        raise Http404 from None
    except PermissionDenied as exc:
        return forbidden(request, exc)
    household_pk = obj.pk if isinstance(obj, Household) else obj.household_id
    response = render(
        request, "households/revealed.html", {"value": value, "household_pk": household_pk}
    )
    response["Cache-Control"] = "no-store"
    return response
