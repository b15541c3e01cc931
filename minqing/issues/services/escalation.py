"""Deadlines running out: the yellow-light warning and escalation one rung up the ladder,
claimed by conditional UPDATEs so that two workers never act twice."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.models import User
from minqing.issues import actions, deadlines
from minqing.issues.models import (
    LEVEL_ORDER,
    OPEN_STATES,
    EventAction,
    Issue,
    LateRecord,
    Level,
    Status,
)
from minqing.issues.services.common import (
    county_of,
    level_unit,
    locked,
    notify_users,
    owner_notice,
    record,
    unit_users,
)
from minqing.lib.context import AuditContext
from minqing.lib.memo import cached
from minqing.lib.text import clean_text
from minqing.notifications.services import notify_many
from minqing.org.models import Department

# --------------------------------------------------------------------------- escalation


def next_level(issue: Issue) -> tuple[str, dict[str, Any]] | None:
    """One rung up the ladder (village → town → county department → county committee → above)
    and who holds the issue there; None at the top."""
    position = LEVEL_ORDER.index(issue.level)
    for level in LEVEL_ORDER[position + 1 :]:
        if level == Level.TOWN and issue.town_id:
            return level, {"owner_node": issue.town, "owner_department": None}
        if level == Level.DEPARTMENT:
            if issue.owner_department_id is not None:
                continue  # already with a department: the committee supervises next
            department = default_department(issue)
            if department is None:
                continue
            return level, {"owner_node": None, "owner_department": department}
        if level == Level.COMMITTEE:
            # The county committee supervises (督办); whoever handles it keeps it.
            return level, {}
        if level == Level.ABOVE:
            return level, {}
    return None


def default_department(issue: Issue) -> Department | None:
    code = issue.category.department_code
    if not code:
        return None
    county = county_of(issue)
    return cached(
        ("default_department", county.pk, code),
        lambda: Department.objects.filter(
            county=county, code=code, kind=Department.Kind.DEPARTMENT
        ).first(),
    )


def issue_escalate(
    *,
    issue: Issue,
    by: User | None = None,
    reason: str = "",
    expected_due: dt.datetime | None = None,
    now: dt.datetime | None = None,
    context: AuditContext | None = None,
) -> Issue | None:
    """升级 — one level up. The worker calls it with ``expected_due``: the claim is a conditional
    UPDATE on (id, due_at, escalations), so of two workers (or two runs) only one escalates a
    missed deadline, and a crash before commit leaves the row to be claimed again.

    Returns the escalated issue, or None when another run got there first.
    """
    now = now or timezone.now()
    with transaction.atomic():
        if expected_due is not None:
            claimed = Issue.objects.filter(
                pk=issue.pk,
                status__in=list(OPEN_STATES),
                due_at=expected_due,
                escalations=issue.escalations,
            ).update(escalations=F("escalations") + 1, updated_at=now)
            if claimed != 1:
                return None
            issue = locked(issue)  # the claim has already counted this escalation
        else:
            issue = locked(issue)
            actions.require(by, "escalate", issue)
            reason = clean_text(reason, "reason", required=True)
            issue.escalations += 1
        step = next_level(issue)
        late_unit = {"unit_node": issue.owner_node, "unit_department": issue.owner_department}
        if expected_due is not None:
            # 通报: the unit that let the deadline pass, once per missed deadline.
            LateRecord.objects.bulk_create(
                [LateRecord(issue=issue, level=issue.level, due_at=expected_due, **late_unit)],
                ignore_conflicts=True,  # (issue, due_at) is unique: once per missed deadline
            )
        if step is None:
            # Already at the top: report it and give the stage a fresh clock to report again.
            changed = deadlines.schedule(issue, start=now, stage=stage_of(issue), new_final=True)
            record(
                issue,
                by=by,
                action=EventAction.OVERDUE,
                note=reason or _("Overdue at the highest level; reported above."),
                data={"level": issue.level},
                fields=["escalations", *changed],
                context=context,
                at=now,
            )
            return issue
        level, owner = step
        previous = issue.owner_label
        for name, value in owner.items():
            setattr(issue, name, value)
        if owner:
            issue.responsible = None
        old_level, issue.level = issue.level, level
        to_status = Status.DISPATCHED if owner else None
        if to_status is None and issue.status in (Status.REGISTERED, Status.RETURNED):
            issue.owner_node = level_unit(issue, level)
        stage = "accept" if to_status else stage_of(issue)
        changed = deadlines.schedule(issue, start=now, stage=stage, new_final=True)
        record(
            issue,
            by=by,
            action=EventAction.ESCALATE,
            to_status=to_status,
            note=reason or _("Deadline passed: escalated automatically."),
            data={
                "from_level": old_level,
                "to_level": level,
                "from": previous,
                "to": issue.owner_label,
            },
            fields=[
                "level",
                "owner_node",
                "owner_department",
                "responsible",
                "escalations",
                *changed,
            ],
            context=context,
            at=now,
        )
        people = unit_users(node=level_unit(issue, level))
        if owner:
            people += unit_users(node=issue.owner_node, department=issue.owner_department)
        notify_users(
            people, kind="issue.escalated", issue=issue, title=_("Overdue issue escalated")
        )
    return issue


def stage_of(issue: Issue) -> str:
    if issue.status in (Status.REGISTERED, Status.RETURNED):
        return "dispatch"
    if issue.status == Status.DISPATCHED:
        return "accept"
    return "handle"


def issues_warn(*, ids: list[int], now: dt.datetime) -> int:
    """黄灯 for a page of the sweep in one transaction: claim the rows still due a warning
    (rows another worker holds are skipped: it is warning them) and tell each owner once.
    Returns how many were warned here."""
    with transaction.atomic():
        due = Issue.objects.filter(
            pk__in=ids,
            warned=False,
            warn_at__lte=now,
            due_at__gt=now,
            status__in=list(OPEN_STATES),
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        claimed = list(
            due.select_related("owner_node", "owner_department", "responsible").order_by("pk")
        )
        Issue.objects.filter(pk__in=[i.pk for i in claimed]).update(warned=True)
        for issue in claimed:
            issue.warned = True
        title = _("Yellow light: deadline approaching")
        notify_many([owner_notice(i, kind="issue.warning", title=title) for i in claimed])
    return len(claimed)


def issue_warn(*, issue: Issue, now: dt.datetime | None = None) -> bool:
    """黄灯 — 70 % of the stage's time is gone: tell the unit once (claimed like escalation)."""
    now = now or timezone.now()
    with transaction.atomic():
        claimed = Issue.objects.filter(
            pk=issue.pk, warned=False, warn_at=issue.warn_at, status__in=list(OPEN_STATES)
        ).update(warned=True)
        if claimed != 1:
            return False
        issue.refresh_from_db()
        title = _("Yellow light: deadline approaching")
        notify_many([owner_notice(issue, kind="issue.warning", title=title)])
    return True
