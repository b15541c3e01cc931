"""Supervision (督办): extensions, merging, colours, check-ins (吹哨报到), residents' orders for
co-building units (点单-派单-接单), reopening and topics (一类事)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.models import User
from minqing.accounts.scope import scope_for
from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_record
from minqing.issues import actions, deadlines, permissions
from minqing.issues.errors import IssueErrorCode, field_error
from minqing.issues.models import (
    COLOUR_LEVEL,
    COLOUR_ORDER,
    LEVEL_ORDER,
    OPEN_STATES,
    CheckIn,
    Colour,
    EventAction,
    ExtensionRequest,
    Issue,
    IssueReporter,
    Status,
    Topic,
)
from minqing.issues.permissions import co_building_unit_of, require
from minqing.issues.services.common import (
    IllegalTransition,
    county_of,
    level_unit,
    locked,
    notify_owner,
    notify_users,
    record,
    status_label,
    unit_users,
)
from minqing.issues.services.escalation import stage_of
from minqing.issues.services.handling import reopen_issue
from minqing.lib.context import AuditContext
from minqing.lib.text import clean_text
from minqing.org.models import Department

MAX_EXTENSION_WORKDAYS = 30


# --------------------------------------------------------------------------- extensions


def extension_request(
    *, by: User, issue: Issue, workdays: int, reason: str, context: AuditContext | None = None
) -> ExtensionRequest:
    """延期申请 — the handling unit asks for more working days, with a reason."""
    try:
        workdays = int(workdays)
    except (TypeError, ValueError):
        raise field_error(
            "workdays", _("Give a whole number of working days."), IssueErrorCode.WORKDAYS
        ) from None
    if not 1 <= workdays <= MAX_EXTENSION_WORKDAYS:
        raise field_error(
            "workdays",
            _("Between 1 and %(n)d working days.") % {"n": MAX_EXTENSION_WORKDAYS},
            IssueErrorCode.WORKDAYS,
        )
    reason = clean_text(reason, "reason", required=True)
    with transaction.atomic():
        issue = locked(issue)
        actions.require(by, "extension_request", issue)
        ext = ExtensionRequest.objects.create(
            issue=issue, requested_by=by, workdays=workdays, reason=reason
        )
        record(
            issue,
            by=by,
            action=EventAction.EXTENSION_REQUEST,
            note=reason,
            data={"workdays": workdays},
            context=context,
        )
        notify_users(
            unit_users(node=level_unit(issue, issue.level)),
            kind="issue.extension",
            issue=issue,
            title=_("Request for more time"),
        )
    return ext


def extension_decide(
    *,
    by: User,
    extension: ExtensionRequest,
    approve: bool,
    note: str = "",
    context: AuditContext | None = None,
) -> ExtensionRequest:
    """The supervisor approves (the deadline moves by that many working days) or refuses."""
    with transaction.atomic():
        ext = ExtensionRequest.objects.select_for_update().get(pk=extension.pk)
        if ext.decision != ExtensionRequest.Decision.PENDING:
            raise IllegalTransition(
                _("This request has already been decided."), code=IssueErrorCode.ALREADY_DECIDED
            )
        issue = locked(ext.issue)
        actions.require(by, "decide", issue)
        now = timezone.now()
        ext.decision = (
            ExtensionRequest.Decision.APPROVED if approve else ExtensionRequest.Decision.REFUSED
        )
        ext.decided_by, ext.decided_at = by, now
        ext.save(update_fields=["decision", "decided_by", "decided_at"])
        fields: list[str] = []
        if approve:
            fields = deadlines.extend(issue, workdays=ext.workdays, now=now, stage=stage_of(issue))
        record(
            issue,
            by=by,
            action=EventAction.EXTENSION_APPROVED if approve else "extension_refused",
            note=clean_text(note, "note", required=False),
            data={"workdays": ext.workdays},
            fields=fields,
            context=context,
            at=now,
        )
        notify_owner(
            issue,
            kind="issue.extension_decided",
            title=_("More time approved") if approve else _("More time refused"),
        )
    return ext


# --------------------------------------------------------------------------- merging, colours


def issue_merge(
    *, by: User, source: Issue, target: Issue, reason: str = "", context: AuditContext | None = None
) -> Issue:
    """合并 — the same problem registered twice: the source's reporters join the target, and
    every one of them still gets a reply when the target is resolved."""
    if source.pk == target.pk:
        raise field_error(
            "target", _("An issue cannot be merged into itself."), IssueErrorCode.MERGE_ITSELF
        )
    with transaction.atomic():
        first, second = sorted([source, target], key=lambda i: i.pk)
        locked(first), locked(second)  # one lock order, so two merges cannot deadlock
        source, target = locked(source), locked(target)
        actions.require(by, "merge", source)
        if target.status not in OPEN_STATES:
            raise IllegalTransition(
                _("The issue to merge into is %(status)s; choose an open one.")
                % {"status": status_label(target.status)},
                code=IssueErrorCode.MERGE_TARGET_CLOSED,
            )
        if not actions.supervisor(by, target):
            raise field_error(
                "target",
                _("Only a supervisor of both issues can merge them."),
                IssueErrorCode.MERGE_NOT_SUPERVISOR,
            )
        moved = 0
        have = set(target.reporters.exclude(household=None).values_list("household_id", flat=True))
        for reporter in source.reporters.all():
            if reporter.household_id is not None and reporter.household_id in have:
                continue
            IssueReporter.objects.filter(pk=reporter.pk).update(issue=target)
            moved += 1
        source.merged_into = target
        record(
            source,
            by=by,
            action=EventAction.MERGE,
            to_status=Status.MERGED,
            note=clean_text(reason, "reason", required=False),
            data={"into": target.pk},
            fields=["merged_into"],
            context=context,
        )
        record(
            target,
            by=by,
            action=EventAction.MERGED_IN,
            note=source.description,
            data={"from": source.pk, "reporters": moved},
            context=context,
        )
    return target


def issue_raise_colour(
    *, by: User, issue: Issue, colour: str, reason: str, context: AuditContext | None = None
) -> Issue:
    """升色 — a harder problem than it looked; never lowered."""
    reason = clean_text(reason, "reason", required=True)
    if colour not in Colour.values:
        raise field_error(
            "colour", _("Choose one of the four colours."), IssueErrorCode.UNKNOWN_COLOUR
        )
    with transaction.atomic():
        issue = locked(issue)
        actions.require(by, "raise_colour", issue)
        if COLOUR_ORDER.index(colour) <= COLOUR_ORDER.index(issue.colour):
            raise field_error(
                "colour",
                _("A colour can only be raised, never lowered or kept."),
                IssueErrorCode.COLOUR_NOT_RAISED,
            )
        old = issue.colour
        issue.colour = colour
        new_level = COLOUR_LEVEL[Colour(colour)]
        if LEVEL_ORDER.index(new_level) > LEVEL_ORDER.index(issue.level):
            issue.level = new_level
            if issue.status in (Status.REGISTERED, Status.RETURNED):
                issue.owner_node = level_unit(issue, new_level)
        record(
            issue,
            by=by,
            action=EventAction.RAISE_COLOUR,
            note=reason,
            data={"from_colour": old, "to_colour": colour},
            fields=["colour", "level", "owner_node"],
            context=context,
        )
        notify_users(
            unit_users(node=level_unit(issue, issue.level)),
            kind="issue.colour",
            issue=issue,
            title=_("Issue raised to a higher colour"),
        )
    return issue


# --------------------------------------------------------------------------- 吹哨报到


def issue_call_departments(
    *, by: User, issue: Issue, departments: list[Department], context: AuditContext | None = None
) -> list[CheckIn]:
    """吹哨 — the town or county calls departments onto a joint (yellow/orange) issue."""
    if not departments:
        raise field_error(
            "departments", _("Choose at least one department."), IssueErrorCode.DEPARTMENTS_REQUIRED
        )
    with transaction.atomic():
        issue = locked(issue)
        actions.require(by, "check_in", issue)
        county = county_of(issue)
        calls = []
        for department in departments:
            if department.county_id != county.pk:
                raise field_error(
                    "departments",
                    _("That department is not in this county."),
                    IssueErrorCode.DEPARTMENT_ELSEWHERE,
                )
            call, created = CheckIn.objects.get_or_create(
                issue=issue, department=department, defaults={"called_by": by}
            )
            if created:
                calls.append(call)
        if calls:
            record(
                issue,
                by=by,
                action=EventAction.CALL_DEPARTMENTS,
                data={"departments": [str(c.department) for c in calls]},
                context=context,
            )
            for call in calls:
                notify_users(
                    unit_users(department=call.department),
                    kind="issue.called",
                    issue=issue,
                    title=_("Your department is called onto an issue (吹哨)"),
                )
    return calls


def issue_check_in(
    *, by: User, issue: Issue, note: str = "", context: AuditContext | None = None
) -> CheckIn:
    """报到 — a called department reports in and joins the work."""
    with transaction.atomic():
        issue = locked(issue)
        actions.require(by, "report_in", issue)
        call = (
            CheckIn.objects.select_for_update()
            .filter(issue=issue, department_id__in=scope_for(by).department_ids, at__isnull=True)
            .first()
        )
        if call is None:  # another colleague reported in between the check and the lock
            raise IllegalTransition(
                _("Your department has already reported in."),
                code=IssueErrorCode.ALREADY_REPORTED_IN,
            )
        call.by, call.at = by, timezone.now()
        call.note = clean_text(note, "note", required=False)
        call.save(update_fields=["by", "at", "note"])
        record(
            issue,
            by=by,
            action=EventAction.CHECK_IN,
            note=call.note,
            data={"department": str(call.department)},
            context=context,
        )
    return call


# --------------------------------------------------------------------------- 点单-派单-接单


def issue_offer(
    *, by: User, issue: Issue, note: str = "", context: AuditContext | None = None
) -> Issue:
    """派单 to co-building units: a resident's order any unit of the county may take."""
    with transaction.atomic():
        issue = locked(issue)
        actions.require(by, "offer", issue)
        issue.offered = True
        issue.owner_node, issue.owner_department = None, None  # any co-building unit may take it
        issue.responsible = None
        changed = deadlines.schedule(issue, start=timezone.now(), stage="accept")
        record(
            issue,
            by=by,
            action=EventAction.OFFER,
            to_status=Status.DISPATCHED,
            note=clean_text(note, "note", required=False),
            fields=["offered", "owner_node", "owner_department", "responsible", *changed],
            context=context,
        )
        units = Department.objects.filter(county=county_of(issue), kind=Department.Kind.CO_BUILDING)
        people = [u for d in units for u in unit_users(department=d)]
        notify_users(
            people, kind="issue.offered", issue=issue, title=_("A resident's order to take")
        )
    return issue


def issue_take(
    *, by: User, issue: Issue, note: str = "", context: AuditContext | None = None
) -> Issue:
    """接单 — a co-building unit of the county takes an offered order; first come, first
    served. The note (when they will come) goes on the timeline."""
    note = clean_text(note, "note", required=False)
    with transaction.atomic():
        issue = locked(issue)
        actions.require(by, "take", issue)
        unit = co_building_unit_of(by, issue)
        issue.owner_department = unit
        issue.offered, issue.responsible = False, by
        changed = deadlines.schedule(issue, start=timezone.now(), stage="handle")
        record(
            issue,
            by=by,
            action=EventAction.TAKE,
            to_status=Status.ACCEPTED,
            note=note,
            data={"unit": str(unit)},
            fields=["owner_department", "offered", "responsible", *changed],
            context=context,
        )
    return issue


def issue_reopen(
    *, by: User, issue: Issue, reason: str, context: AuditContext | None = None
) -> Issue:
    """Reopen a closed or revisited issue (e.g. the problem came back), to the same unit."""
    reason = clean_text(reason, "reason", required=True)
    with transaction.atomic():
        issue = locked(issue)
        actions.require(by, "reopen", issue)
        reopen_issue(issue, by=by, words=reason, context=context, at=timezone.now())
    return issue


# --------------------------------------------------------------------------- 一类事


def topic_create(
    *,
    by: User,
    title: str,
    issues: list[Issue],
    note: str = "",
    context: AuditContext | None = None,
) -> Topic:
    """Group alike issues (across places) into a topic for a policy-level fix."""
    title = clean_text(title, "title", required=True, max_length=100)
    if not issues:
        raise field_error(
            "issues",
            _("Choose the issues that belong together."),
            IssueErrorCode.TOPIC_ISSUES_REQUIRED,
        )
    # Asked of every issue's place: town staff of one town who is a party member elsewhere
    # groups only the issues of their own town.
    require(
        all(permissions.can_group_at(by, i.node_path) for i in issues),
        _("Only town or county staff group issues into topics."),
    )
    counties = {county_of(i).pk for i in issues}
    if len(counties) != 1:
        raise field_error(
            "issues", _("A topic groups issues of one county."), IssueErrorCode.TOPIC_COUNTIES
        )
    categories = {i.category_id for i in issues}
    with transaction.atomic():
        topic = Topic.objects.create(
            title=title,
            county_id=counties.pop(),
            category_id=categories.pop() if len(categories) == 1 else None,
            note=clean_text(note, "note", required=False),
            created_by=by,
        )
        Issue.objects.filter(pk__in=[i.pk for i in issues]).update(topic=topic)
        audit_record(
            action=AuditAction.ISSUE_TOPIC_CREATE,
            user=by,
            context=context,
            obj=topic,
            detail={"issues": sorted(i.pk for i in issues)},
        )
    return topic
