"""The issue page: its record, reporters, photos, timeline, and the steps the reader may take
(listed from the table in ``actions.py``; each a POST that calls one service; whatever stops
it re-renders the page with the input, a summary on top and why)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from minqing.accounts.middleware import AuthedRequest
from minqing.issues import actions, forms, selectors, services, similarity
from minqing.issues.actions import IllegalTransition
from minqing.issues.errors import IssueErrorCode, field_error
from minqing.issues.models import EventAction, ExtensionRequest, Issue, IssuePhoto
from minqing.issues.photos import photo_add, photo_bytes
from minqing.issues.services.handling import LevelConfirmationNeeded
from minqing.issues.views.common import issue_or_404
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied, StaleEdit
from minqing.lib.forms import add_errors
from minqing.lib.views import forbidden
from minqing.org.models import Department, Node
from minqing.org.selectors import breadcrumbs

# --------------------------------------------------------------------------- the issue page


@dataclass
class Action:
    """One step the reader may take on the issue (a row of ``actions.STEPS``), with its form."""

    name: str
    label: str
    form: Any
    danger: bool = False
    #: The form's second step: "该问题为蓝色（村级），确定派到区水利局吗？"
    question: str = ""


@dataclass
class Problem:
    """One line of the summary at the top of the page, linking to where it is."""

    anchor: str
    text: str


def available_actions(
    request: AuthedRequest, issue: Issue, data: Any = None, only: str = ""
) -> list[Action]:
    """The steps the reader may take now, straight from the table the services enforce."""
    user = request.user
    return [
        Action(step.name, str(step.label), step.form(issue, user, data), step.danger)
        for step in actions.allowed_steps(user, issue)
        if step.form is not None and (not only or step.name == only)
    ]


def issue_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    issue = issue_or_404(request, pk)
    return _detail_page(request, issue)


def _detail_page(
    request: AuthedRequest,
    issue: Issue,
    failed: Action | None = None,
    *,
    status: int = 200,
    refused: str = "",
    changes: list[Any] | None = None,
) -> HttpResponse:
    """The issue page; after a POST that did not go through, ``failed`` is the action with its
    bound form (opened, with what was typed), ``refused`` why the step was refused, and
    ``changes`` the timeline entries since the version the form was based on."""
    shown = available_actions(request, issue)
    kept: list[tuple[str, str]] = []
    if failed is not None:
        if any(a.name == failed.name for a in shown):
            shown = [failed if a.name == failed.name else a for a in shown]
        else:
            kept = _typed(failed.form)  # the step is not possible any more: keep the text
    summary = _summary(failed, refused, changes, kept)
    alike = issue.is_open and actions.supervisor(request.user, issue)
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
            "can_photo": actions.allowed(request.user, "photo", issue),
            "check_ins": issue.check_ins.select_related("department", "by"),
            "extensions": issue.extensions.select_related("requested_by", "decided_by"),
            "actions": shown,
            "failed": failed.name if failed else "",
            "failed_label": failed.label if failed else "",
            "summary": summary,
            "asking": bool(failed and failed.question),
            "refused": refused,
            "changes": changes or [],
            "kept": kept,
            "similar": similar,
            "alike_lazy": alike,
            "can_merge": any(a.name == "merge" for a in shown),
            "crumbs": breadcrumbs(issue.node, request.user),
            "now": timezone.now(),
        },
        status=status,
    )


def _summary(
    failed: Action | None, refused: str, changes: list[Any] | None, kept: list[Any]
) -> list[Problem]:
    """What went wrong, at the top of the page, each line a link to the place it concerns."""
    if failed is None:
        return []
    out: list[Problem] = []
    if refused:
        out.append(Problem("kept" if kept else f"act-{failed.name}", refused))
    if changes:
        out.append(
            Problem("changes", _("Someone changed this issue after you opened it: see below."))
        )
    if failed.question:
        out.append(Problem(f"{failed.name}-confirm", failed.question))
    form = failed.form
    if form.is_bound and not kept:
        for error in form.non_field_errors():
            text = _("%(field)s: %(error)s") % {"field": failed.label, "error": error}
            out.append(Problem(f"act-{failed.name}", text))
        for name, errors in form.errors.items():
            if name == "__all__" or name not in form.fields:
                continue
            bound = form[name]
            for error in errors:
                text = _("%(field)s: %(error)s") % {"field": bound.label, "error": error}
                out.append(Problem(bound.auto_id or f"act-{failed.name}", text))
    return out


def _typed(form: Any) -> list[tuple[str, str]]:
    """What the user typed into a form that can no longer be sent, to copy from the page."""
    out = []
    for name, field in form.fields.items():
        if field.widget.is_hidden:
            continue
        value = form.data.get(name, "")
        if str(value).strip():
            choices = dict(getattr(field, "choices", []) or [])
            out.append((str(field.label or name), str(choices.get(value, value))))
    return out


def _changes_since(issue: Issue, based_on: int | None) -> list[Any]:
    """The timeline entries after version ``based_on``: every step but the registration
    moves the version by one and writes one entry."""
    if based_on is None or based_on >= issue.version:
        return []
    latest = (
        issue.events.exclude(action=EventAction.REGISTER)
        .select_related("actor")
        .order_by("-at", "-id")[: issue.version - based_on]
    )
    return list(reversed(list(latest)))


def _alike(request: AuthedRequest, issue: Issue) -> list[tuple[Any, Issue]]:
    """Open issues that read like this one, in the reader's scope, best first."""
    found = similarity.similar_to_issue(issue)
    by_id = Issue.objects.visible_to(request.user).in_bulk([s.issue_id for s in found])
    return [(s, by_id[s.issue_id]) for s in found if s.issue_id in by_id]


@require_GET
def issue_alike(request: AuthedRequest, pk: int) -> HttpResponse:
    """The issue page's "alike open issues" section, loaded after the page (htmx)."""
    issue = issue_or_404(request, pk)
    supervisor = issue.is_open and actions.supervisor(request.user, issue)
    return render(
        request,
        "issues/_alike.html",
        {
            "issue": issue,
            "similar": _alike(request, issue) if supervisor else [],
            "can_merge": supervisor and actions.allowed(request.user, "merge", issue),
        },
    )


@require_POST
def issue_act(request: AuthedRequest, pk: int, action: str) -> HttpResponse:
    """One POST per step of ``actions.STEPS``. Whatever stops it re-renders the page with the
    form as typed and why: invalid input (400), a step the table refuses (403, or 409 when the
    issue's state no longer allows it), an edit based on an old version (409, with what changed
    since and the version refreshed, so the same text can be sent again). Done, it redirects."""
    issue = issue_or_404(request, pk)
    step = actions.STEPS.get(action)
    if step is None or step.form is None:
        raise Http404
    user = request.user
    based_on = _version(request)
    act = Action(step.name, str(step.label), step.form(issue, user, request.POST), step.danger)
    problem = actions.refusal(user, action, issue)
    if problem is not None:
        return _refused(request, issue, act, problem, based_on)
    if not act.form.is_valid():
        return _detail_page(request, issue, act, status=400)
    try:
        HANDLERS[action](request, issue, act.form)
    except StaleEdit:
        fresh = issue_or_404(request, pk)
        again = _rebound(request, fresh, act)
        if again is None:
            refusal = actions.refusal(user, action, fresh)
            return _refused(request, fresh, act, refusal, based_on)
        return _detail_page(
            request, fresh, again, status=409, changes=_changes_since(fresh, based_on)
        )
    except LevelConfirmationNeeded as exc:
        data = request.POST.copy()
        data["confirm_to"] = data.get("to", "")
        form = step.form(issue, user, data)
        form.is_valid()
        form.question = exc.question
        asked = Action(step.name, str(step.label), form, step.danger, question=exc.question)
        return _detail_page(request, issue, asked)
    except (IllegalTransition, PermissionDenied) as exc:  # changed under the row lock
        fresh = issue_or_404(request, pk)
        return _refused(request, fresh, act, exc, based_on)
    except ValidationError as exc:
        add_errors(act.form, exc)
        return _detail_page(request, issue, act, status=400)
    done = Issue.objects.select_related("owner_node", "owner_department").get(pk=issue.pk)
    messages.success(request, step.done(done, act.form))
    return redirect("issues:detail", pk=issue.pk)


def _rebound(request: AuthedRequest, issue: Issue, act: Action) -> Action | None:
    """The same step's form on the fresh issue, with the same input (None: not possible now)."""
    build = actions.STEPS[act.name].form
    if build is None or not actions.allowed(request.user, act.name, issue):
        return None
    form = build(issue, request.user, request.POST)
    form.is_valid()  # shows the input; its errors, if any, show too
    return Action(act.name, act.label, form, act.danger)


def _refused(
    request: AuthedRequest, issue: Issue, act: Action, problem: Exception | None, based_on
) -> HttpResponse:
    """The page again with the reason on top and what was typed kept (403, or 409 when the
    issue's state is why)."""
    if problem is None:  # allowed after all: show the form to send again
        again = _rebound(request, issue, act)
        return _detail_page(
            request, issue, again or act, status=409, changes=_changes_since(issue, based_on)
        )
    stale = isinstance(problem, IllegalTransition)
    if isinstance(problem, ValidationError):
        reason = " ".join(problem.messages)
    else:
        reason = str(problem)
    return _detail_page(
        request,
        issue,
        act,
        status=409 if stale else 403,
        refused=reason,
        changes=_changes_since(issue, based_on),
    )


def _target(issue: Issue, value: str) -> tuple[Node | None, Department | None]:
    kind, _sep, raw = value.partition(":")
    if kind == "dept":
        return None, Department.objects.get(pk=int(raw))
    return Node.objects.get(pk=int(raw)), None


def _version(request: AuthedRequest) -> int | None:
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
        level_confirmed=form.level_confirmed(),
        version=_version(request),
        context=AuditContext.of(request),
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
        context=AuditContext.of(request),
    )


def _merge(request, issue, form):
    target = Issue.objects.visible_to(request.user).filter(pk=form.cleaned_data["target"]).first()
    if target is None:
        raise field_error(
            "target", _("No issue with that number in your places."), IssueErrorCode.UNKNOWN_TARGET
        )
    services.issue_merge(
        by=request.user,
        source=issue,
        target=target,
        reason=form.cleaned_data["reason"],
        context=AuditContext.of(request),
    )


def _decide(request, issue, form):
    extension = get_object_or_404(ExtensionRequest, pk=form.cleaned_data["extension"], issue=issue)
    services.extension_decide(
        by=request.user,
        extension=extension,
        approve=form.cleaned_data["approve"],
        note=form.cleaned_data["note"],
        context=AuditContext.of(request),
    )


def _common(request: AuthedRequest) -> dict[str, Any]:
    return {"by": request.user, "context": AuditContext.of(request)}


def _note(form: Any) -> str:
    return form.cleaned_data["note"]


#: How each step's form reaches its service: every field the form asks for is handed on.
HANDLERS: dict[str, Any] = {
    "dispatch": _dispatch,
    "accept": lambda r, i, f: services.issue_accept(
        issue=i, note=_note(f), version=_version(r), **_common(r)
    ),
    "start": lambda r, i, f: services.issue_start(
        issue=i, note=_note(f), version=_version(r), **_common(r)
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
        issue=i, note=_note(f), version=_version(r), **_common(r)
    ),
    "close_override": lambda r, i, f: services.issue_close(
        issue=i,
        override_reason=f.cleaned_data["override_reason"],
        version=_version(r),
        **_common(r),
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
    "report_in": lambda r, i, f: services.issue_check_in(issue=i, note=_note(f), **_common(r)),
    "offer": lambda r, i, f: services.issue_offer(issue=i, note=_note(f), **_common(r)),
    "take": lambda r, i, f: services.issue_take(issue=i, note=_note(f), **_common(r)),
    "merge": _merge,
    "sample_revisit": lambda r, i, f: services.issue_sample_revisit(
        issue=i, **f.cleaned_data, **_common(r)
    ),
    "reopen": lambda r, i, f: services.issue_reopen(
        issue=i, reason=f.cleaned_data["reason"], **_common(r)
    ),
}


@require_POST
def photo_upload(request: AuthedRequest, pk: int) -> HttpResponse:
    issue = issue_or_404(request, pk)
    form = forms.PhotoForm(request.POST, request.FILES)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect("issues:detail", pk=issue.pk)
    try:
        photo_add(
            by=request.user,
            issue=issue,
            data=form.cleaned_data["photo"],
            context=AuditContext.of(request),
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
def photo(request: AuthedRequest, pk: int, photo_pk: int) -> HttpResponse:
    """A photo, only to people who can see its issue (404 like a missing one otherwise)."""
    issue = issue_or_404(request, pk)
    item = get_object_or_404(IssuePhoto, pk=photo_pk, issue=issue)
    response = HttpResponse(photo_bytes(item), content_type=item.content_type)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response
