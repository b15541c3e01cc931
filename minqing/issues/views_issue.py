"""The issue page: its record, reporters, photos, timeline, and the actions the reader may take
(each a POST that calls one service; a refusal re-renders the page with the input and why)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from minqing.accounts.models import Role
from minqing.accounts.scope import scope_for
from minqing.issues import forms, permissions, selectors, services, similarity
from minqing.issues.models import (
    Colour,
    ExtensionRequest,
    Issue,
    IssuePhoto,
)
from minqing.issues.photos import photo_add, photo_bytes
from minqing.issues.views import _file_errors, _issue
from minqing.lib.errors import PermissionDenied, StaleEdit
from minqing.lib.views import forbidden
from minqing.org.models import Department, Node
from minqing.org.selectors import breadcrumbs

# --------------------------------------------------------------------------- the issue page


@dataclass
class Action:
    """One thing the reader may do to the issue, with its form."""

    name: str
    label: str
    form: Any
    danger: bool = False


def _departments(issue: Issue) -> list[Department]:
    return list(
        Department.objects.filter(county_id=services.county_of(issue).pk).order_by("kind", "name")
    )


def available_actions(
    request: HttpRequest, issue: Issue, data: Any = None, only: str = ""
) -> list[Action]:
    """The actions the reader may take now: state guard and permission, as the services check."""
    user = request.user
    supervisor = permissions.is_supervisor(user, issue)
    owner = permissions.is_owner(user, issue)
    out: list[Action] = []

    def add(name: str, label: str, build: Any, allowed: bool, danger: bool = False) -> None:
        if allowed and issue.can(_action_key(name)) and (not only or only == name):
            out.append(Action(name, label, build(data if only == name else None), danger))

    departments: list[Department] | None = None

    def units() -> list[tuple[str, str]]:
        nonlocal departments
        departments = departments if departments is not None else _departments(issue)
        return forms.unit_choices(issue, [d for d in departments if d.kind == "department"])

    add("accept", _("Accept"), lambda d: forms.NoteForm(d), owner)

    def dispatch_form(d: Any) -> forms.DispatchForm:
        default = services.default_department(issue) if issue.can("dispatch") else None
        initial = {"to": f"dept:{default.pk}"} if default else {}
        return forms.DispatchForm(d, choices=units(), initial=initial)

    add("dispatch", _("Dispatch"), dispatch_form, supervisor)
    add("start", _("Start work"), lambda d: forms.NoteForm(d), owner)
    reporters = list(issue.reporters.filter(replied_at__isnull=True))
    add(
        "resolve",
        _("Resolve and reply"),
        lambda d: forms.ResolveForm(d, reporters=reporters),
        owner,
    )
    add("revisit", _("Record the revisit"), lambda d: forms.RevisitForm(d), supervisor)
    add("close", _("Close (销号)"), lambda d: forms.CloseForm(d), supervisor)
    add("return", _("Return (misrouted)"), lambda d: forms.ReasonForm(d), owner, True)
    add(
        "transfer",
        _("Pass on to another unit"),
        lambda d: forms.TransferForm(d, choices=units()),
        owner or supervisor,
    )
    add("extension_request", _("Ask for more time"), lambda d: forms.ExtensionForm(d), owner)
    add("escalate", _("Escalate"), lambda d: forms.EscalateForm(d), supervisor, True)
    add(
        "raise_colour",
        _("Raise the colour"),
        lambda d: forms.ColourForm(d),
        supervisor or owner,
    )
    if issue.colour in (Colour.YELLOW, Colour.ORANGE):
        add(
            "check_in",
            _("Call departments (吹哨)"),
            lambda d: forms.CallForm(
                d, departments=Department.objects.filter(county=services.county_of(issue))
            ),
            supervisor,
        )
        called = issue.check_ins.filter(
            department_id__in=scope_for(user).department_ids, at__isnull=True
        ).exists()
        if called and issue.can("check_in") and (not only or only == "report_in"):
            out.append(Action("report_in", _("Report in (报到)"), forms.NoteForm(data)))
    if issue.source == "resident":
        add("offer", _("Offer to co-building units"), lambda d: forms.NoteForm(d), supervisor)
    if issue.offered and Role.CO_BUILDING_UNIT in scope_for(user).roles:
        add("take", _("Take this order"), lambda d: forms.NoteForm(d), True)
    add("merge", _("Merge into another issue"), lambda d: forms.MergeForm(d), supervisor, True)
    add("sample_revisit", _("Sample revisit"), lambda d: forms.SampleRevisitForm(d), supervisor)
    add("reopen", _("Reopen"), lambda d: forms.ReasonForm(d), supervisor, True)
    pending = issue.extensions.filter(decision=ExtensionRequest.Decision.PENDING).first()
    if pending and supervisor and issue.is_open and (not only or only == "decide"):
        out.append(
            Action(
                "decide",
                _("Decide on more time"),
                forms.DecideForm(data, initial={"extension": pending.pk}),
            )
        )
    return out


def _action_key(name: str) -> str:
    """``check_in`` is the call (吹哨) in the actions list; ``offer`` and ``take`` share the
    dispatch guard; everything else checks its own name."""
    return {"offer": "dispatch", "report_in": "check_in", "decide": "extension_request"}.get(
        name, name
    )


def issue_detail(request: HttpRequest, pk: int) -> HttpResponse:
    issue = _issue(request, pk)
    return _detail_page(request, issue)


def _detail_page(
    request: HttpRequest, issue: Issue, failed: Action | None = None, status: int = 200
) -> HttpResponse:
    actions = available_actions(request, issue)
    if failed is not None:
        actions = [failed if a.name == failed.name else a for a in actions]
    alike = issue.is_open and permissions.is_supervisor(request.user, issue)
    # The page loads the alike issues after it shows (htmx); ``?alike=1`` puts them inline.
    similar = _alike(request, issue) if alike and request.GET.get("alike") else []
    return render(
        request,
        "issues/detail.html",
        {
            "issue": issue,
            "events": selectors.timeline(issue),
            "reporters": issue.reporters.select_related("household"),
            "revisits": issue.revisits.select_related("by"),
            "photos": issue.photos.all(),
            "photo_form": forms.PhotoForm(),
            "check_ins": issue.check_ins.select_related("department", "by"),
            "extensions": issue.extensions.select_related("requested_by", "decided_by"),
            "actions": actions,
            "failed": failed.name if failed else "",
            "similar": similar,
            "alike_lazy": alike,
            "can_merge": any(a.name == "merge" for a in actions),
            "crumbs": breadcrumbs(issue.node, request.user),
            "now": timezone.now(),
        },
        status=status,
    )


def _alike(request: HttpRequest, issue: Issue) -> list[tuple[Any, Issue]]:
    """Open issues that read like this one, in the reader's scope, best first."""
    found = similarity.similar_to_issue(issue)
    by_id = Issue.objects.visible_to(request.user).in_bulk([s.issue_id for s in found])
    return [(s, by_id[s.issue_id]) for s in found if s.issue_id in by_id]


@require_GET
def issue_alike(request: HttpRequest, pk: int) -> HttpResponse:
    """The issue page's "alike open issues" section, loaded after the page (htmx)."""
    issue = _issue(request, pk)
    supervisor = issue.is_open and permissions.is_supervisor(request.user, issue)
    return render(
        request,
        "issues/_alike.html",
        {
            "issue": issue,
            "similar": _alike(request, issue) if supervisor else [],
            "can_merge": supervisor and issue.can("merge"),
        },
    )


@require_POST
def issue_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """One POST per action; a refusal re-renders the page with the form, its input and why."""
    issue = _issue(request, pk)
    found = available_actions(request, issue, data=request.POST, only=action)
    if not found:
        if action not in ACTIONS:
            raise Http404
        if not issue.can(_action_key(action)) and action not in ("report_in", "decide"):
            messages.error(
                request,
                _("This issue is %(status)s; that step is not possible now.")
                % {"status": issue.get_status_display()},
            )
            return _detail_page(request, issue, status=409)
        return forbidden(request, _("You may not do this to this issue."))
    act = found[0]
    if not act.form.is_valid():
        return _detail_page(request, issue, act, status=400)
    try:
        ACTIONS[action](request, issue, act.form)
    except StaleEdit:
        act.form.add_error(None, StaleEdit.message)
        return _detail_page(request, issue, act, status=409)
    except ValidationError as exc:
        _file_errors(act.form, exc)
        return _detail_page(
            request, issue, act, status=409 if isinstance(exc, services.IllegalTransition) else 400
        )
    except PermissionDenied as exc:
        return forbidden(request, exc)
    messages.success(request, _("Done: %(action)s.") % {"action": act.label})
    return redirect("issues:detail", pk=issue.pk)


def _target(issue: Issue, value: str) -> tuple[Node | None, Department | None]:
    kind, _sep, raw = value.partition(":")
    if kind == "dept":
        return None, Department.objects.get(pk=int(raw))
    return Node.objects.get(pk=int(raw)), None


def _version(request: HttpRequest) -> int | None:
    raw = request.POST.get("version")
    return int(raw) if raw and raw.isdigit() else None


def _dispatch(request, issue, form):
    to_node, to_department = _target(issue, form.cleaned_data["to"])
    services.issue_dispatch(
        by=request.user,
        issue=issue,
        to_node=to_node,
        to_department=to_department,
        note=form.cleaned_data["note"],
        version=_version(request),
        request=request,
    )


def _transfer(request, issue, form):
    to_node, to_department = _target(issue, form.cleaned_data["to"])
    services.issue_transfer(
        by=request.user,
        issue=issue,
        to_node=to_node,
        to_department=to_department,
        reason=form.cleaned_data["reason"],
        version=_version(request),
        request=request,
    )


def _merge(request, issue, form):
    target = Issue.objects.visible_to(request.user).filter(pk=form.cleaned_data["target"]).first()
    if target is None:
        raise ValidationError({"target": _("No issue with that number in your places.")})
    services.issue_merge(
        by=request.user,
        source=issue,
        target=target,
        reason=form.cleaned_data["reason"],
        request=request,
    )


def _decide(request, issue, form):
    extension = get_object_or_404(ExtensionRequest, pk=form.cleaned_data["extension"], issue=issue)
    services.extension_decide(
        by=request.user,
        extension=extension,
        approve=form.cleaned_data["approve"],
        note=form.cleaned_data["note"],
        request=request,
    )


def _common(request: HttpRequest) -> dict[str, Any]:
    return {"by": request.user, "request": request}


ACTIONS: dict[str, Any] = {
    "accept": lambda r, i, f: services.issue_accept(issue=i, version=_version(r), **_common(r)),
    "dispatch": _dispatch,
    "start": lambda r, i, f: services.issue_start(
        issue=i, note=f.cleaned_data["note"], version=_version(r), **_common(r)
    ),
    "resolve": lambda r, i, f: services.issue_resolve(
        issue=i,
        resolution=f.cleaned_data["resolution"],
        replies=f.replies(),
        version=_version(r),
        **_common(r),
    ),
    "revisit": lambda r, i, f: services.issue_revisit(
        issue=i, version=_version(r), **f.cleaned_data, **_common(r)
    ),
    "close": lambda r, i, f: services.issue_close(
        issue=i, version=_version(r), **f.cleaned_data, **_common(r)
    ),
    "return": lambda r, i, f: services.issue_return(
        issue=i, reason=f.cleaned_data["reason"], version=_version(r), **_common(r)
    ),
    "transfer": _transfer,
    "extension_request": lambda r, i, f: services.extension_request(
        issue=i, **f.cleaned_data, **_common(r)
    ),
    "decide": _decide,
    "escalate": lambda r, i, f: services.issue_escalate(
        issue=i, reason=f.cleaned_data["reason"], **_common(r)
    ),
    "raise_colour": lambda r, i, f: services.issue_raise_colour(
        issue=i, **f.cleaned_data, **_common(r)
    ),
    "check_in": lambda r, i, f: services.issue_call_departments(
        issue=i, departments=list(f.cleaned_data["departments"]), **_common(r)
    ),
    "report_in": lambda r, i, f: services.issue_check_in(
        issue=i, note=f.cleaned_data["note"], **_common(r)
    ),
    "offer": lambda r, i, f: services.issue_offer(
        issue=i, note=f.cleaned_data["note"], **_common(r)
    ),
    "take": lambda r, i, f: services.issue_take(issue=i, **_common(r)),
    "merge": _merge,
    "sample_revisit": lambda r, i, f: services.issue_sample_revisit(
        issue=i, **f.cleaned_data, **_common(r)
    ),
    "reopen": lambda r, i, f: services.issue_reopen(
        issue=i, reason=f.cleaned_data["reason"], **_common(r)
    ),
}


@require_POST
def photo_upload(request: HttpRequest, pk: int) -> HttpResponse:
    issue = _issue(request, pk)
    form = forms.PhotoForm(request.POST, request.FILES)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("issues:detail", pk=issue.pk)
    try:
        photo_add(
            by=request.user, issue=issue, data=form.cleaned_data["photo"].read(), request=request
        )
    except ValidationError as exc:
        for msg in exc.messages:
            messages.error(request, msg)
    except PermissionDenied as exc:
        return forbidden(request, exc)
    else:
        messages.success(request, _("Photo added."))
    return redirect("issues:detail", pk=issue.pk)


@require_GET
def photo(request: HttpRequest, pk: int, photo_pk: int) -> HttpResponse:
    """A photo, only to people who can see its issue (404 like a missing one otherwise)."""
    issue = _issue(request, pk)
    item = get_object_or_404(IssuePhoto, pk=photo_pk, issue=issue)
    response = HttpResponse(photo_bytes(item), content_type=item.content_type)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response
