"""Household pages: the household page (一户一页), edits, reveal, search."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from minqing.accounts.permissions import Action, refusal
from minqing.contacts.selectors_manage import household_contacts
from minqing.households import selectors, services
from minqing.households.forms import (
    HouseholdForm,
    RemoveResidentForm,
    ResidentForm,
    VillageArchiveForm,
    keep_blank_confidential,
    lock_child_texts,
)
from minqing.households.models import Household, Resident, VillageArchive
from minqing.households.presentation import (
    HOUSEHOLD_TEXT_FIELDS,
    RESIDENT_TEXT_FIELDS,
    HouseholdShown,
)
from minqing.issues.selectors import issues_of_household
from minqing.lib.errors import PermissionDenied, StaleEdit
from minqing.lib.views import forbidden
from minqing.org.models import Level
from minqing.org.selectors import breadcrumbs, village_of
from minqing.org.views import scoped_node


def _household(request: HttpRequest, pk: int) -> Household:
    try:
        return selectors.household_for_page(request.user, pk)
    except Household.DoesNotExist:
        raise Http404 from None


def _resident(request: HttpRequest, pk: int) -> Resident:
    return get_object_or_404(
        Resident.objects.visible_to(request.user).select_related(
            "household", "household__node", "household__village"
        ),
        pk=pk,
    )


def household_detail(request: HttpRequest, pk: int) -> HttpResponse:
    household = _household(request, pk)
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
            "issues": issues_of_household(request.user, household),
            "contacts": household_contacts(request.user, household),
            "now": timezone.now(),
        },
    )


def _submit(
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
        if getattr(exc, "code", None) == "version_missing" and version_now is not None:
            form.add_error(None, exc.messages)
            _set_posted(form, "version", version_now())
            return 400
        _file_errors(form, exc)
        return 200
    except PermissionDenied as exc:
        return forbidden(request, exc)
    messages.success(request, success)
    return redirect(*done())


def _set_posted(form: Any, name: str, value: Any) -> None:
    """Change one posted value of a bound form before it is shown again."""
    data = form.data.copy()
    data[name] = "" if value is None else str(value)
    form.data = data


#: Never pre-filled on a member's form: the birth date is shown only in a reveal (masking).
RESIDENT_UNFILLED = services.SENSITIVE_FIELDS | {"birth_date"}


def _form_page(
    request: HttpRequest, form: Any, outcome: HttpResponse | int, **context: Any
) -> HttpResponse:
    if isinstance(outcome, HttpResponse):
        return outcome
    return render(request, "households/form.html", {"form": form, **context}, status=outcome)


def _keep_blank_sensitive(
    data: dict[str, Any], fields: frozenset[str] = services.SENSITIVE_FIELDS
) -> dict[str, Any]:
    """A blank sensitive field means "keep what is recorded": forms never pre-fill them."""
    return {k: v for k, v in data.items() if not (k in fields and not v)}


def household_create(request: HttpRequest, node_pk: int) -> HttpResponse:
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
        outcome = _submit(
            request,
            form,
            lambda: created.append(
                services.household_create(
                    by=request.user,
                    node=data.get("node") or node,
                    data=data,
                    tags=list(data["tags"]),
                    request=request,
                )
            ),
            success=_("Household saved."),
            done=lambda: ("households:detail", created[0].pk),
        )
    return _form_page(
        request, form, outcome, title=_("New household"), crumbs=breadcrumbs(node, request.user)
    )


def household_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a household. A stale edit (409) shows what changed since, field by field beside
    what the editor typed, and lets them keep theirs or take the other person's without
    retyping: the page is resubmitted with the new version and one choice per field."""
    household = _household(request, pk)
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
            k: v for k, v in _keep_blank_sensitive(form.cleaned_data).items() if k not in locked
        }
        outcome = _submit(
            request,
            form,
            lambda: services.household_update(
                by=request.user,
                household=household,
                data=cleaned,
                base_version=cleaned.get("version"),
                tags=list(cleaned["tags"]),
                node=cleaned.get("node"),
                request=request,
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
            _mask_conflicts(conflicts, shown)
            form = _rebased(form, household, initial, conflicts, shown)
    return _form_page(
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
    data = form.data.copy()
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


def _mask_conflicts(conflicts: list[selectors.Conflict], shown: HouseholdShown) -> None:
    """Both sides of a conflict as the editor may read them (children's names masked)."""
    for conflict in conflicts:
        conflict.theirs, conflict.yours = shown.text(conflict.theirs), shown.text(conflict.yours)


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


def resident_add(request: HttpRequest, pk: int) -> HttpResponse:
    household = _household(request, pk)
    if page := refusal(request, Action.EDIT_ARCHIVE, household):
        return page
    form = ResidentForm(request.POST or None)
    outcome: HttpResponse | int = 200
    if request.method == "POST" and form.is_valid():
        outcome = _submit(
            request,
            form,
            lambda: services.resident_add(
                by=request.user, household=household, data=form.cleaned_data, request=request
            ),
            success=_("Member added."),
            done=lambda: ("households:detail", household.pk),
        )
    return _form_page(
        request,
        form,
        outcome,
        title=_("Add a member to %(name)s") % {"name": household.head_name},
        crumbs=breadcrumbs(household.node, request.user),
        household=household,
    )


def resident_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a member. The form carries the member's version; a stale edit (409) lists what the
    other person changed beside what the editor typed, keeps the input, and takes their value
    where the editor had left a field as it was."""
    resident = _resident(request, pk)
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
            for k, v in _keep_blank_sensitive(form.cleaned_data, RESIDENT_UNFILLED).items()
            if k not in locked
        }
        version = cleaned.pop("version", None)
        outcome = _submit(
            request,
            form,
            lambda: services.resident_update(
                by=request.user,
                resident=resident,
                data=cleaned,
                base_version=version,
                request=request,
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
            _mask_conflicts(conflicts, shown)
            _set_posted(form, "version", current.version)
            for conflict in conflicts:
                if conflict.default == "theirs":
                    _take_recorded_member(form, conflict.field, current)
    return _form_page(
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
    return _choices_applied(post, lambda data, name: _put_member_value(data, name, resident))


def _choices_applied(post: Any, put: Any) -> Any:
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


def resident_remove(request: HttpRequest, pk: int) -> HttpResponse:
    resident = _resident(request, pk)
    if page := refusal(request, Action.EDIT_ARCHIVE, resident):
        return page
    if resident.is_minor and (page := refusal(request, Action.SEE_MINORS, resident)):
        return page
    form = RemoveResidentForm(request.POST or None)
    outcome: HttpResponse | int = 200
    household = resident.household
    if request.method == "POST" and form.is_valid():
        outcome = _submit(
            request,
            form,
            lambda: services.resident_remove(
                by=request.user,
                resident=resident,
                reason=form.cleaned_data["reason"],
                request=request,
            ),
            success=_("Member removed."),
            done=lambda: ("households:detail", household.pk),
        )
    return _form_page(
        request,
        form,
        outcome,
        title=_("Remove %(name)s from the household") % {"name": resident.name},
        crumbs=breadcrumbs(household.node, request.user),
        household=household,
        submit_label=_("Remove"),
    )


def village_archive_edit(request: HttpRequest, node_pk: int) -> HttpResponse:
    village = scoped_node(request, node_pk)
    if village.level != Level.VILLAGE:
        raise Http404
    if page := refusal(request, Action.EDIT_ARCHIVE, village):
        return page
    archive = VillageArchive.objects.filter(village=village).first()
    initial: dict[str, Any] = {"version": archive.version if archive else 0}
    if archive:
        initial.update(
            {f: getattr(archive, f) for f in VillageArchiveForm.base_fields if f != "version"}
        )
    posted = (
        _choices_applied(request.POST, lambda d, n: _put_archive_value(d, n, archive))
        if request.method == "POST"
        else None
    )
    form = VillageArchiveForm(posted, initial=initial)
    outcome: HttpResponse | int = 200
    conflicts: list[selectors.Conflict] = []
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        version = data.pop("version")
        outcome = _submit(
            request,
            form,
            lambda: services.village_archive_update(
                by=request.user, village=village, data=data, base_version=version, request=request
            ),
            success=_("Village archive saved."),
            done=lambda: ("org:node", village.pk),
            version_now=lambda: (
                VillageArchive.objects.filter(village=village)
                .values_list("version", flat=True)
                .first()
                or 0
            ),
        )
        if outcome == 409:
            current = VillageArchive.objects.get(village=village)
            conflicts = selectors.archive_conflicts(
                current,
                version or 0,
                data,
                {name: str(f.label) for name, f in form.fields.items()},
            )
            _set_posted(form, "version", current.version)
            for conflict in conflicts:
                if conflict.default == "theirs":
                    rebased = form.data.copy()
                    _put_archive_value(rebased, conflict.field, current)
                    form.data = rebased
    return _form_page(
        request,
        form,
        outcome,
        title=_("Village archive of %(name)s") % {"name": village.name},
        crumbs=breadcrumbs(village, request.user),
        conflicts=conflicts,
        both_changed=any(c.default == "mine" for c in conflicts),
        stale=outcome == 409,
    )


def _put_archive_value(data: Any, name: str, archive: VillageArchive | None) -> None:
    if archive is not None and name in VillageArchiveForm.base_fields and name != "version":
        value = getattr(archive, name)
        data[name] = "" if value is None else str(value)


@require_POST
def reveal(request: HttpRequest, kind: str, pk: int, field: str) -> HttpResponse:
    """Show one full value (audited); answers an htmx fragment or a small page."""
    if kind not in ("household", "resident"):
        raise Http404
    obj: Household | Resident = (
        _household(request, pk) if kind == "household" else _resident(request, pk)
    )
    try:
        value = services.reveal(by=request.user, obj=obj, field=field, request=request)
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


@csrf_exempt  # it only reads; error pages carry no token and post it from the top bar
@require_http_methods(["GET", "POST"])
def search_view(request: HttpRequest) -> HttpResponse:
    """The search page. Its form posts; a search for words is then redirected to a shareable
    ``?q=`` address, but one for an ID number or phone is answered to the POST itself, so the
    number never stands in a URL (nor in a proxy's log, the history or a Referer). A ``?q=``
    holding such a number is not searched: the bare search page says to use the form. The
    POST changes nothing, so it needs no CSRF token (another site's page could make a
    browser search, but never read the answer)."""
    if request.method == "POST":
        query = request.POST.get("q", "").strip()
        if not selectors.query_is_private(query):
            return redirect(f"{reverse('households:search')}?{urlencode({'q': query})}")
        return _search_page(request, query)
    query = request.GET.get("q", "")
    if selectors.query_is_private(query):
        # Off the address at once: not searched, not echoed, not kept in the history entry.
        messages.error(request, PRIVATE_IN_URL)
        return redirect("households:search")
    return _search_page(request, query)


PRIVATE_IN_URL = gettext_lazy(
    "ID numbers and phone numbers are searched through this form only, never in the address "
    "bar (addresses are kept in logs). Type the number again below."
)


def _search_page(request: HttpRequest, query: str) -> HttpResponse:
    results = selectors.search(request.user, query)
    return render(request, "households/search.html", {"results": results, "search_query": query})


def _file_errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
