"""A household's members: adding, editing (with the stale-edit merge) and removing one."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext as _

from minqing.accounts.middleware import AuthedRequest
from minqing.accounts.permissions import Action, refusal
from minqing.households import selectors, services
from minqing.households.forms import (
    RemoveResidentForm,
    ResidentForm,
    keep_blank_confidential,
    lock_child_texts,
)
from minqing.households.models import Resident
from minqing.households.selectors import RESIDENT_TEXT_FIELDS, HouseholdShown
from minqing.households.views.common import (
    choices_applied,
    form_page,
    household_or_404,
    keep_blank_sensitive,
    mask_conflicts,
    resident_or_404,
    set_posted,
    submit,
)
from minqing.lib.context import AuditContext
from minqing.org.selectors import breadcrumbs

#: Never pre-filled on a member's form: the birth date is shown only in a reveal (masking).
RESIDENT_UNFILLED = services.SENSITIVE_FIELDS | {"birth_date"}


def resident_add(request: AuthedRequest, pk: int) -> HttpResponse:
    household = household_or_404(request, pk)
    if page := refusal(request, Action.EDIT_ARCHIVE, household):
        return page
    form = ResidentForm(request.POST or None)
    outcome: HttpResponse | int = 200
    if request.method == "POST" and form.is_valid():
        outcome = submit(
            request,
            form,
            lambda: services.resident_add(
                by=request.user,
                household=household,
                data=form.cleaned_data,
                context=AuditContext.of(request),
            ),
            success=_("Member added."),
            done=lambda: ("households:detail", household.pk),
        )
    return form_page(
        request,
        form,
        outcome,
        title=_("Add a member to %(name)s") % {"name": household.head_name},
        crumbs=breadcrumbs(household.node, request.user),
        household=household,
    )


def resident_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    """Edit a member. The form carries the member's version; a stale edit (409) lists what the
    other person changed beside what the editor typed, keeps the input, and takes their value
    where the editor had left a field as it was."""
    resident = resident_or_404(request, pk)
    if page := refusal(request, Action.EDIT_ARCHIVE, resident):
        return page
    if resident.is_minor and (page := refusal(request, Action.SEE_MINORS, resident)):
        return page
    initial: dict[str, Any] = {
        f: getattr(resident, f) for f in services.RESIDENT_FIELDS if f not in RESIDENT_UNFILLED
    }
    initial["version"] = resident.version
    data = _resolved_member(request.POST, resident) if request.method == "POST" else None
    form = ResidentForm(data, initial=initial)
    keep_blank_confidential(form, RESIDENT_UNFILLED)
    shown = HouseholdShown(request.user, resident.household)
    locked = lock_child_texts(form, resident, shown, RESIDENT_TEXT_FIELDS)
    outcome: HttpResponse | int = 200
    conflicts: list[selectors.Conflict] = []
    if request.method == "POST" and form.is_valid():
        cleaned = {
            k: v
            for k, v in keep_blank_sensitive(form.cleaned_data, RESIDENT_UNFILLED).items()
            if k not in locked
        }
        version = cleaned.pop("version", None)
        outcome = submit(
            request,
            form,
            lambda: services.resident_update(
                by=request.user,
                resident=resident,
                data=cleaned,
                base_version=version,
                context=AuditContext.of(request),
            ),
            success=_("Member saved."),
            done=lambda: ("households:detail", resident.household_id),
            version_now=lambda: Resident.objects.get(pk=resident.pk).version,
        )
        if outcome == 409:
            current = Resident.objects.get(pk=resident.pk)
            conflicts = selectors.member_conflicts(
                current,
                version or 0,
                cleaned,
                {name: str(f.label) for name, f in form.fields.items()},
            )
            mask_conflicts(conflicts, shown)
            set_posted(form, "version", current.version)
            for conflict in conflicts:
                if conflict.default == "theirs":
                    _take_recorded_member(form, conflict.field, current)
    return form_page(
        request,
        form,
        outcome,
        title=_("Edit %(name)s") % {"name": resident.name},
        crumbs=breadcrumbs(resident.household.node, request.user),
        household=resident.household,
        conflicts=conflicts,
        both_changed=any(c.default == "mine" for c in conflicts),
        stale=outcome == 409,
    )


def _take_recorded_member(form: Any, name: str, resident: Resident) -> None:
    """Put the recorded value of a member's field into the posted form (a blank unfilled field
    keeps the record)."""
    data = form.data.copy()
    _put_member_value(data, name, resident)
    form.data = data


def _put_member_value(data: Any, name: str, resident: Resident) -> None:
    if name in RESIDENT_UNFILLED:
        data[name] = ""
    elif name == "works_away":
        if resident.works_away:
            data[name] = "on"
        else:
            data.pop(name, None)
    elif name in services.RESIDENT_FIELDS:
        data[name] = getattr(resident, name) or ""


def _resolved_member(post: Any, resident: Resident) -> Any:
    """The posted member form with the editor's "take theirs" choices applied."""
    return choices_applied(post, lambda data, name: _put_member_value(data, name, resident))


def resident_remove(request: AuthedRequest, pk: int) -> HttpResponse:
    resident = resident_or_404(request, pk)
    if page := refusal(request, Action.EDIT_ARCHIVE, resident):
        return page
    if resident.is_minor and (page := refusal(request, Action.SEE_MINORS, resident)):
        return page
    form = RemoveResidentForm(request.POST or None)
    outcome: HttpResponse | int = 200
    household = resident.household
    if request.method == "POST" and form.is_valid():
        outcome = submit(
            request,
            form,
            lambda: services.resident_remove(
                by=request.user,
                resident=resident,
                reason=form.cleaned_data["reason"],
                context=AuditContext.of(request),
            ),
            success=_("Member removed."),
            done=lambda: ("households:detail", household.pk),
        )
    return form_page(
        request,
        form,
        outcome,
        title=_("Remove %(name)s from the household") % {"name": resident.name},
        crumbs=breadcrumbs(household.node, request.user),
        household=household,
        submit_label=_("Remove"),
    )
