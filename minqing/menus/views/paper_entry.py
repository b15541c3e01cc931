"""Quarterly-menu pages: paper entry (纸质问卷录入) — a village or town clerk types in the paper
forms of the visits, one household after the other, through ``answers_record(paper=True)``.

Only the tasks the clerk may answer (``MenuAction.ANSWER``: the entry roles over the household's
place, or the task's own visitor) are found and saved; any other task answers "not found". The
questions are the campaign version's for the household's kind (urban/rural), numbered as on the
paper form; skip logic runs on the page (static/menus/logic.js) and again in the service."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from minqing.accounts.middleware import AuthedRequest
from minqing.lib.context import AuditContext
from minqing.menus.models import Campaign, NotReachedReason, Outcome, Task
from minqing.menus.paper import question_numbers, theme_groups, unlettered
from minqing.menus.permissions import DENIED, MenuAction, allowed
from minqing.menus.selectors import authoring as select
from minqing.menus.services.answers import AnswerInput, Status, answers_record
from minqing.menus.services.authoring import version_form
from minqing.menus.spec import (
    CHOICE_TYPES,
    FIXED_CHOICES,
    NUMBER_TYPES,
    FormSpec,
    QType,
    QuestionSpec,
)
from minqing.menus.views._refuse import refused
from minqing.menus.views.authoring import paper_form_response

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: The visit time typed last, offered for the next household.
SESSION_TIME = "menus_paper_entry_time"


def _task(request: AuthedRequest, campaign: Campaign, pk: str) -> Task:
    """One of the clerk's tasks of the campaign; any other answers 404 like a missing one."""
    task = (
        select.entry_tasks(request.user, campaign).filter(pk=int(pk)).first()
        if pk.isdigit() and len(pk) <= 12
        else None
    )
    if task is None or not allowed(request.user, MenuAction.ANSWER, task):
        raise Http404
    return task


def _answers(data: Any, questions: list[QuestionSpec]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The answers as the service takes them (unanswered left out), and as typed (to show)."""
    answers: dict[str, Any] = {}
    typed: dict[str, Any] = {}
    for q in questions:
        key = f"a-{q.name}"
        if q.type == QType.NOTE:
            continue
        if q.type == QType.SELECT_MULTIPLE:
            chosen = [x for x in data.getlist(key) if x]
            typed[q.name] = chosen
            if chosen:
                answers[q.name] = chosen
        else:
            value = str(data.get(key, "")).strip()
            typed[q.name] = value
            if value:
                answers[q.name] = value
    return answers, typed


def _parse_time(text: str) -> dt.datetime | None:
    try:
        naive = dt.datetime.strptime(text.strip(), "%Y-%m-%dT%H:%M")  # noqa: DTZ007 - local time
    except ValueError:
        return None
    return timezone.make_aware(naive)  # the clerk types the county's local time


def _layout(form: FormSpec, typed: dict[str, Any], errors: dict[str, str]) -> list[Any]:
    """The questions by theme, numbered as on the paper form, with what was typed."""
    groups = theme_groups(form)
    numbers = question_numbers(groups)
    out = []
    for theme, questions in groups:
        items = []
        for q in questions:
            choices = list(FIXED_CHOICES.get(q.type, q.choices))
            value = typed.get(q.name, [] if q.type == QType.SELECT_MULTIPLE else "")
            items.append(
                {
                    "q": q,
                    "number": numbers.get(q.name),
                    "kind": (
                        "note"
                        if q.type == QType.NOTE
                        else "multiple"
                        if q.type == QType.SELECT_MULTIPLE
                        else "choice"
                        if q.type in CHOICE_TYPES
                        else "number"
                        if q.type in NUMBER_TYPES
                        else "text"
                    ),
                    "inputmode": "numeric" if q.type == QType.INTEGER else "decimal",
                    "choices": [
                        {
                            "letter": LETTERS[i] if i < len(LETTERS) else "",
                            "c": c,
                            "label": unlettered(i, c.label_zh or c.name),
                            "checked": (
                                c.name in value if isinstance(value, list) else c.name == value
                            ),
                        }
                        for i, c in enumerate(choices)
                    ],
                    "value": value,
                    "error": errors.get(f"answers.{q.name}", ""),
                }
            )
        out.append({"theme": theme, "items": items})
    return out


@require_http_methods(["GET", "POST"])
def paper_entry(request: AuthedRequest, pk: int) -> HttpResponse:
    """纸质问卷录入 — find a household by number or head's name, type its paper form in."""
    campaign = get_object_or_404(Campaign.objects.select_related("version__menu"), pk=pk)
    user = request.user
    if not select.may_enter(user, campaign):
        return refused(request, DENIED[MenuAction.ANSWER], campaign.scope_path)
    here = reverse("menus:paper_entry", kwargs={"pk": campaign.pk})
    query = request.GET.get("q", "").strip()
    found = select.find_tasks(user, campaign, query) if query else []
    task_key = request.POST.get("task", "") or request.GET.get("task", "")
    task: Task | None
    if task_key:
        task = _task(request, campaign, task_key)
    elif query and len(found) == 1:
        task = found[0]
    elif query:
        task = None
    else:
        task = select.next_open_task(user, campaign)
    errors: dict[str, str] = {}
    typed: dict[str, Any] = {}
    values = {
        "outcome": Outcome.HOME.value,
        "reason": "",
        # a batch of forms is often from one afternoon: the last time typed is offered again
        "visited_at": request.session.get(
            SESSION_TIME, timezone.localtime().strftime("%Y-%m-%dT%H:%M")
        ),
        "client_uuid": str(uuid.uuid4()),
        "visitor": "",
    }
    status = 200
    version = campaign.version
    form = version_form(version, task.place_kind) if task is not None else None
    visitors = select.visitors_for(task) if task is not None else []
    if task is not None and all(p.pk != user.pk for p in visitors):
        visitors.append(user)  # the clerk may have gone themself
    if task is not None:
        values["visitor"] = str(task.assignee_id or user.pk)
    if request.method == "POST":
        if task is None or form is None:
            raise Http404
        values = {k: request.POST.get(k, "").strip() for k in values}
        try:
            client_uuid = uuid.UUID(values["client_uuid"])
        except ValueError:
            client_uuid = uuid.uuid4()
            values["client_uuid"] = str(client_uuid)
        answers, typed = _answers(request.POST, form.questions)
        finished = _parse_time(values["visited_at"])
        picked = values["visitor"]
        visitor_id = (
            int(picked)
            if picked.isdigit() and len(picked) <= 12 and int(picked) != task.assignee_id
            else None
        )
        if task.assignee_id is None and visitor_id == user.pk:
            visitor_id = None  # the clerk: the service records them as the visitor anyway
        if finished is None:
            errors["finished_at"] = _("Give the visit's date and time.")
        if not errors:
            result = answers_record(
                by=user,
                records=[
                    AnswerInput(
                        client_uuid=client_uuid,
                        task_id=task.pk,
                        version_id=version.pk,
                        outcome=values["outcome"],
                        finished_at=finished,  # type: ignore[arg-type]
                        answers=answers if values["outcome"] != Outcome.NOT_REACHED else {},
                        reason=values["reason"] if values["outcome"] == Outcome.NOT_REACHED else "",
                        paper=True,
                        visitor_id=visitor_id,
                    )
                ],
                context=AuditContext.of(request),
            )[0]
            if result.status in (Status.SAVED, Status.REPLAY):
                request.session[SESSION_TIME] = values["visited_at"]
                messages.success(
                    request,
                    _("Entered: %(head)s (%(number)s).")
                    % {"head": task.household.head_name, "number": task.household.number},
                )
                following = select.next_open_task(user, campaign, after=task)
                return redirect(f"{here}?task={following.pk}" if following else here)
            if result.status == Status.NOT_FOUND:
                raise Http404
            errors = dict(result.errors)
        status = 400 if errors.keys() - {"task"} else 409
    layout = _layout(form, typed, errors) if form is not None else []
    answer_errors = [k for k in errors if k.startswith("answers.")]
    logic = select.form_logic(form) if form is not None else []
    return render(
        request,
        "menus/paper_entry/entry.html",
        {
            "campaign": campaign,
            "version": version,
            "query": query,
            "found": found,
            "task": task,
            "layout": layout,
            "logic": logic,
            "v": values,
            "errors": errors,
            "answer_error_count": len(answer_errors),
            "outcomes": [
                (Outcome.HOME.value, _("At home")),
                (Outcome.PHONE.value, _("By phone")),
                (Outcome.NOT_REACHED.value, _("Not reached")),
            ],
            "reasons": NotReachedReason.choices,
            "visitors": visitors,
            "open_count": select.entry_tasks(user, campaign).filter(outcome="").count(),
        },
        status=status,
    )


@require_GET
def paper_form(request: AuthedRequest, pk: int) -> HttpResponse:
    """纸质问卷 — the campaign's current version as an A4 form (``?version=urban|rural``), for
    the visitors without a phone and the clerks who type the forms in."""
    campaign = get_object_or_404(Campaign.objects.select_related("version__menu__county"), pk=pk)
    if not select.may_print(request.user, campaign):
        return refused(request, DENIED[MenuAction.ANSWER], campaign.scope_path)
    kind = request.GET.get("version", "")
    if kind not in ("urban", "rural"):
        raise Http404
    return paper_form_response(request, campaign.version, kind)


urlpatterns: list[URLPattern] = [
    path("campaigns/<int:pk>/paper/", paper_entry, name="paper_entry"),
    path("campaigns/<int:pk>/paper/form/", paper_form, name="paper_form"),
]
