"""The closed loop, step by step: dispatch, accept, work, return, pass on, resolve with a reply
to every reporter, revisit, close (销号), sample revisits and corrections."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from minqing.accounts.models import User
from minqing.issues import actions, deadlines, similarity
from minqing.issues.errors import IssueErrorCode, field_error
from minqing.issues.models import (
    Complexity,
    ContactMode,
    EventAction,
    Issue,
    Level,
    Revisit,
    Satisfaction,
    Status,
)
from minqing.issues.services.common import (
    IllegalTransition,
    county_of,
    dispatch_by_rule_step,
    level_unit,
    locked,
    notify_owner,
    notify_reporters,
    notify_users,
    record,
    unit_users,
)
from minqing.lib.context import AuditContext
from minqing.lib.text import clean_text
from minqing.org.models import Department, Node

# --------------------------------------------------------------------------- dispatch


class LevelConfirmationNeeded(ValidationError):
    """The unit chosen is of another level than the issue's colour: ask the user first."""

    def __init__(self, question: str) -> None:
        super().__init__({"to": ValidationError(question, code=IssueErrorCode.CONFIRM_LEVEL)})
        self.question = question


def _target(issue: Issue, to_node: Node | None, to_department: Department | None) -> str:
    """Check a dispatch target; return the level it puts the issue in the hands of."""
    if (to_node is None) == (to_department is None):
        raise field_error(
            "to", _("Choose one unit: a village, a town or a department."), IssueErrorCode.ONE_UNIT
        )
    county = county_of(issue)
    if to_department is not None:
        if to_department.county_id != county.pk:
            raise field_error(
                "to",
                _("That department is not in this county."),
                IssueErrorCode.DEPARTMENT_ELSEWHERE,
            )
        return Level.DEPARTMENT
    assert to_node is not None  # exactly one of the two, checked above
    allowed: dict[int | None, str] = {issue.village_id: Level.VILLAGE, county.pk: Level.COMMITTEE}
    if issue.town_id:
        allowed[issue.town_id] = Level.TOWN
    if to_node.pk not in allowed:
        raise field_error(
            "to",
            _("Send it to its own village, its town, or the county."),
            IssueErrorCode.UNIT_NOT_ALLOWED,
        )
    return allowed[to_node.pk]


def _responsible_for(person: User | None, *, node: Node | None, department: Department | None):
    if person is None:
        return None
    if person.pk not in {u.pk for u in unit_users(node=node, department=department)}:
        raise field_error(
            "responsible",
            _("The responsible person must work for the unit it is sent to."),
            IssueErrorCode.RESPONSIBLE_ELSEWHERE,
        )
    return person


def issue_dispatch(
    *,
    by: User,
    issue: Issue,
    to_node: Node | None = None,
    to_department: Department | None = None,
    responsible: User | None = None,
    note: str = "",
    level_confirmed: bool = False,
    version: int | None = None,
    context: AuditContext | None = None,
) -> Issue:
    """派单 — send the issue to the unit that will handle it.

    A unit of another level than the issue's colour (a blue, village issue to a county
    department; a yellow one to a village) is asked about first: ``LevelConfirmationNeeded``
    carries the question, and ``level_confirmed=True`` sends it, recorded on the timeline."""
    with transaction.atomic():
        issue = locked(issue, version)
        actions.require(by, "dispatch", issue)
        to_level = _target(issue, to_node, to_department)
        note = clean_text(note, "note", required=False)
        data: dict[str, Any] = {}
        if to_level not in actions.COLOUR_TARGET_LEVELS[issue.colour]:
            if not level_confirmed:
                raise LevelConfirmationNeeded(
                    actions.off_level_question(issue, str(to_department or to_node))
                )
            data = {"level_confirmed": True, "colour": issue.colour, "to_level": to_level}
        issue.responsible = _responsible_for(responsible, node=to_node, department=to_department)
        issue.owner_node, issue.owner_department, issue.offered = to_node, to_department, False
        changed = deadlines.schedule(issue, start=timezone.now(), stage="accept")
        record(
            issue,
            by=by,
            action=EventAction.DISPATCH,
            to_status=Status.DISPATCHED,
            note=note,
            data={"to": issue.owner_label, **data},
            fields=["owner_node", "owner_department", "offered", "responsible", *changed],
            context=context,
        )
        notify_owner(issue, kind="issue.dispatched", title=_("Issue sent to you"))
        notify_reporters(
            issue,
            kind="issue.reported.dispatched",
            what=_("sent to %(unit)s") % {"unit": issue.owner_label},
            actor=by,
        )
    return issue


def issue_dispatch_by_rule(
    *,
    issue: Issue,
    department: Department,
    rule: str,
    context: AuditContext | None = None,
) -> Issue:
    """派单 by a standing rule the county set (a quarterly-menu answer such as "饮水是否正常?
    否" goes to the water department): no person dispatches, the timeline names the rule.

    Only a colour a department may handle (yellow, orange) and a department of the issue's
    county; anything else is a programming error of the rule's author, refused before."""
    with transaction.atomic():
        issue = locked(issue)
        fields = dispatch_by_rule_step(issue, department=department, now=timezone.now())
        record(
            issue,
            by=None,
            action=EventAction.DISPATCH,
            to_status=Status.DISPATCHED,
            note=rule,
            data={"to": issue.owner_label, "rule": rule},
            fields=fields,
            context=context,
        )
        notify_owner(issue, kind="issue.dispatched", title=_("Issue sent to you"))
    return issue


def issue_accept(
    *,
    by: User,
    issue: Issue,
    note: str = "",
    version: int | None = None,
    context: AuditContext | None = None,
) -> Issue:
    """接单 — the unit takes the issue on; the person who accepts becomes responsible. The
    note (what they will do, when they will come) goes on the timeline."""
    note = clean_text(note, "note", required=False)
    with transaction.atomic():
        issue = locked(issue, version)
        actions.require(by, "accept", issue)
        issue.responsible = issue.responsible or by
        changed = deadlines.schedule(issue, start=timezone.now(), stage="handle")
        record(
            issue,
            by=by,
            action=EventAction.ACCEPT,
            to_status=Status.ACCEPTED,
            note=note,
            fields=["responsible", *changed],
            data={"responsible": str(issue.responsible)},
            context=context,
        )
    return issue


def issue_start(
    *,
    by: User,
    issue: Issue,
    note: str = "",
    version: int | None = None,
    context: AuditContext | None = None,
) -> Issue:
    """办理 — work has begun (optional step; progress notes go on the timeline)."""
    with transaction.atomic():
        issue = locked(issue, version)
        actions.require(by, "start", issue)
        record(
            issue,
            by=by,
            action=EventAction.START,
            to_status=Status.IN_PROGRESS,
            note=clean_text(note, "note", required=False),
            context=context,
        )
    return issue


def issue_return(
    *,
    by: User,
    issue: Issue,
    reason: str,
    version: int | None = None,
    context: AuditContext | None = None,
) -> Issue:
    """退回 — misrouted: back to the dispatcher of its level, with the reason."""
    reason = clean_text(reason, "reason", required=True)
    with transaction.atomic():
        issue = locked(issue, version)
        actions.require(by, "return", issue)
        previous = issue.owner_label
        issue.owner_node, issue.owner_department = level_unit(issue, issue.level), None
        issue.responsible = None
        changed = deadlines.schedule(issue, start=timezone.now(), stage="dispatch")
        record(
            issue,
            by=by,
            action=EventAction.RETURN,
            to_status=Status.RETURNED,
            note=reason,
            data={"from": previous},
            fields=["owner_node", "owner_department", "responsible", *changed],
            context=context,
        )
        notify_users(
            unit_users(node=issue.owner_node),
            kind="issue.returned",
            issue=issue,
            title=_("Issue returned for dispatch"),
        )
    return issue


def issue_transfer(
    *,
    by: User,
    issue: Issue,
    reason: str,
    to_node: Node | None = None,
    to_department: Department | None = None,
    version: int | None = None,
    context: AuditContext | None = None,
) -> Issue:
    """逐级流转 — pass the issue up or down to another unit (by its owner or its supervisor)."""
    reason = clean_text(reason, "reason", required=True)
    with transaction.atomic():
        issue = locked(issue, version)
        actions.require(by, "transfer", issue)
        _target(issue, to_node, to_department)
        if (to_node and to_node.pk == issue.owner_node_id) or (
            to_department and to_department.pk == issue.owner_department_id
        ):
            raise field_error("to", _("It is already with that unit."), IssueErrorCode.SAME_UNIT)
        previous = issue.owner_label
        issue.owner_node, issue.owner_department = to_node, to_department
        issue.responsible = None
        changed = deadlines.schedule(issue, start=timezone.now(), stage="accept")
        record(
            issue,
            by=by,
            action=EventAction.TRANSFER,
            to_status=Status.DISPATCHED,
            note=reason,
            data={"from": previous, "to": issue.owner_label},
            fields=["owner_node", "owner_department", "responsible", *changed],
            context=context,
        )
        notify_owner(issue, kind="issue.dispatched", title=_("Issue passed to you"))
    return issue


# --------------------------------------------------------------------------- resolution


def issue_resolve(
    *,
    by: User,
    issue: Issue,
    resolution: str,
    replies: dict[int, str] | None = None,
    version: int | None = None,
    context: AuditContext | None = None,
) -> Issue:
    """办结 — say what was done and reply to every reporter (each household gets feedback)."""
    resolution = clean_text(resolution, "resolution", required=True)
    replies = {int(k): str(v or "").strip() for k, v in (replies or {}).items()}
    with transaction.atomic():
        issue = locked(issue, version)
        actions.require(by, "resolve", issue)
        waiting = list(issue.reporters.filter(replied_at__isnull=True))
        missing = [r for r in waiting if not replies.get(r.pk)]
        if missing:
            raise field_error(
                "replies",
                _("Reply to every reporter before resolving: %(names)s.")
                % {"names": "、".join(str(r) for r in missing)},
                IssueErrorCode.REPLIES_MISSING,
            )
        now = timezone.now()
        for reporter in waiting:
            reporter.reply = replies[reporter.pk][:2000]
            reporter.replied_at, reporter.replied_by = now, by
            reporter.save(update_fields=["reply", "replied_at", "replied_by"])
        issue.resolution, issue.resolved_at = resolution, now
        record(
            issue,
            by=by,
            action=EventAction.RESOLVE,
            to_status=Status.RESOLVED,
            note=resolution,
            # The replies stay on the timeline: a reopened issue gets new ones on the reporters.
            data={"replies": [[str(r), r.reply] for r in waiting]},
            fields=["resolution", "resolved_at"],
            context=context,
            at=now,
        )
        supervisors = unit_users(node=level_unit(issue, issue.level))
        notify_users(
            supervisors, kind="issue.resolved", issue=issue, title=_("Issue resolved: revisit")
        )
        notify_reporters(
            issue,
            kind="issue.reported.resolved",
            what=pgettext("reporter notice", "resolved"),
            actor=by,
        )
    return issue


def issue_revisit(
    *,
    by: User,
    issue: Issue,
    mode: str,
    result: str,
    words: str = "",
    version: int | None = None,
    context: AuditContext | None = None,
) -> Revisit:
    """回访 — ask the resident. 不满意 reopens the issue to the same unit with their words."""
    if mode not in ContactMode.values:
        raise field_error(
            "mode", _("Choose phone, home visit or WeChat."), IssueErrorCode.UNKNOWN_MODE
        )
    if result not in Satisfaction.values:
        raise field_error(
            "result",
            _("Choose satisfied, basically satisfied or not."),
            IssueErrorCode.UNKNOWN_RESULT,
        )
    words = clean_text(words, "words", required=result == Satisfaction.UNSATISFIED)
    with transaction.atomic():
        issue = locked(issue, version)
        actions.require(by, "revisit", issue)
        now = timezone.now()
        revisit = Revisit.objects.create(
            issue=issue, by=by, at=now, mode=mode, result=result, words=words
        )
        if result == Satisfaction.UNSATISFIED:
            reopen_issue(issue, by=by, words=words, context=context, at=now, data={"mode": mode})
        else:
            record(
                issue,
                by=by,
                action=EventAction.REVISIT,
                to_status=Status.REVISITED,
                note=words,
                data={"result": result, "mode": mode},
                context=context,
                at=now,
            )
    return revisit


def reopen_issue(
    issue: Issue, *, by: User, words: str, context: AuditContext | None, at, data=None
) -> None:
    """重办 — back to the same unit, with a fresh handling deadline and the resident's words."""
    issue.resolved_at = None
    issue.closed_at = None
    changed = deadlines.schedule(issue, start=at, stage="handle", new_final=True)
    record(
        issue,
        by=by,
        action=EventAction.REOPEN,
        to_status=Status.REOPENED,
        note=words,
        data={"result": Satisfaction.UNSATISFIED, **(data or {})},
        fields=["resolved_at", "closed_at", *changed],
        context=context,
        at=at,
    )
    issue.reporters.update(replied_at=None)
    notify_owner(issue, kind="issue.reopened", title=_("Resident not satisfied: issue reopened"))
    notify_reporters(
        issue,
        kind="issue.reported.reopened",
        what=_("reopened, %(unit)s handles it again") % {"unit": issue.owner_label},
        actor=by,
    )


def issue_close(
    *,
    by: User,
    issue: Issue,
    override_reason: str = "",
    note: str = "",
    version: int | None = None,
    context: AuditContext | None = None,
) -> Issue:
    """销号 — after a satisfied revisit (step ``close``), or without one by a supervisor who
    may override, with the reason (step ``close_override``)."""
    override_reason = clean_text(override_reason, "override_reason", required=False)
    note = clean_text(note, "note", required=False)
    with transaction.atomic():
        issue = locked(issue, version)
        data: dict[str, Any] = {}
        step = "close_override" if override_reason else "close"
        if (
            step == "close"
            and issue.status == Status.RESOLVED
            and actions.allowed(by, "close_override", issue)
        ):
            raise IllegalTransition(
                _(
                    "The resident has not said they are satisfied: revisit first, or give "
                    "the reason for closing without it."
                ),
                code=IssueErrorCode.NOT_REVISITED,
            )
        actions.require(by, step, issue)
        if step == "close_override":
            data["override"] = True
            note = override_reason
        issue.closed_at = timezone.now()
        record(
            issue,
            by=by,
            action=EventAction.CLOSE,
            to_status=Status.CLOSED,
            note=note,
            data=data,
            fields=["closed_at"],
            context=context,
        )
        notify_reporters(issue, kind="issue.reported.closed", what=_("closed (销号)"), actor=by)
    return issue


def issue_sample_revisit(
    *,
    by: User,
    issue: Issue,
    mode: str,
    result: str,
    words: str = "",
    context: AuditContext | None = None,
) -> Revisit:
    """抽样回访 — ask again after closing; 不满意 reopens it (群众不满意不销号)."""
    if mode not in ContactMode.values:
        raise field_error(
            "mode", _("Choose phone, home visit or WeChat."), IssueErrorCode.UNKNOWN_MODE
        )
    if result not in Satisfaction.values:
        raise field_error(
            "result",
            _("Choose satisfied, basically satisfied or not."),
            IssueErrorCode.UNKNOWN_RESULT,
        )
    words = clean_text(words, "words", required=result == Satisfaction.UNSATISFIED)
    with transaction.atomic():
        issue = locked(issue)
        actions.require(by, "sample_revisit", issue)
        now = timezone.now()
        revisit = Revisit.objects.create(
            issue=issue, by=by, at=now, mode=mode, result=result, words=words, sampled=True
        )
        if result == Satisfaction.UNSATISFIED:
            reopen_issue(issue, by=by, words=words, context=context, at=now, data={"sampled": True})
        else:
            record(
                issue,
                by=by,
                action=EventAction.SAMPLE_REVISIT,
                note=words,
                data={"result": result, "mode": mode},
                context=context,
                at=now,
            )
    return revisit


def issue_update(
    *,
    by: User,
    issue: Issue,
    data: dict[str, Any],
    version: int | None,
    context: AuditContext | None = None,
) -> Issue:
    """Correct the title, description, category or complexity of an unfinished issue."""
    with transaction.atomic():
        issue = locked(issue, version)
        actions.require(by, "edit", issue)
        diff: dict[str, list[str]] = {}
        if "title" in data:
            new = clean_text(data["title"], "title", required=True, max_length=100)
            if new != issue.title:
                diff["title"] = [issue.title, new]
                issue.title = new
        if "description" in data:
            new = clean_text(data["description"], "description", required=True)
            if new != issue.description:
                diff["description"] = [issue.description, new]
                issue.description = new
        if "category" in data:
            category = data["category"]
            if category is None or not category.active:
                raise field_error(
                    "category", _("Choose a category."), IssueErrorCode.CATEGORY_REQUIRED
                )
            if category.pk != issue.category_id:
                diff["category"] = [str(issue.category), str(category)]
                issue.category = category
        if "complexity" in data:
            if data["complexity"] not in Complexity.values:
                raise field_error(
                    "complexity", _("Unknown complexity."), IssueErrorCode.UNKNOWN_COMPLEXITY
                )
            if data["complexity"] != issue.complexity:
                diff["complexity"] = [issue.complexity, data["complexity"]]
                issue.complexity = data["complexity"]
        if not diff:
            return issue
        record(
            issue,
            by=by,
            action=EventAction.EDIT,
            data={"changed": sorted(diff)},
            fields=["title", "description", "category", "complexity"],
            context=context,
        )
        similarity.sync_index(issue)
    return issue
