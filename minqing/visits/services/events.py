"""三必报、四必到 — household events that call for a visit or a report, and holiday campaigns.

- A *must-visit* event (wedding, funeral, enlistment, joining the Party, disaster, neighbour
  dispute) gives the household a ``VisitTask`` due ``MUST_VISIT_DAYS[kind]`` **working days**
  after the event (China's official calendar, ``minqing.workdays``: weekends and public
  holidays do not count, make-up working days do), and tells the household's liaisons who have
  an account. A home or night visit to the household does the task (``services.visit_record``).
- A *must-report* event (a change in the family, moving house) is written into the household's
  change history (``ArchiveChange``) and reported to the village's cadres.
- A *holiday campaign* (节日走访) gives every household of a village with one of the chosen tags
  a task due on the campaign's date. The same title and date is the same campaign: starting it
  again only adds tasks for households that have none yet.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.models import Role, User
from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_record
from minqing.contacts.models import ContactLink
from minqing.households.models import ArchiveChange, Household, HouseholdTag
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied
from minqing.org.models import Level, Node
from minqing.visits.errors import VisitErrorCode
from minqing.visits.models import (
    MUST_REPORT,
    MUST_VISIT_DAYS,
    EventKind,
    LifeEvent,
    VisitCampaign,
    VisitTask,
)

#: The kinds a person records for one household (a holiday is a campaign of the village).
FORM_KINDS = [k for k in EventKind if k != EventKind.HOLIDAY]
#: Who starts a holiday campaign for a village.
CAMPAIGN_ROLES = frozenset({Role.COMMAND_CENTRE, Role.TOWN_STAFF, Role.VILLAGE_CADRE})
#: An event longer ago than this is history for the family situation, not news.
MAX_AGE_DAYS = 366
#: A campaign is for the coming weeks.
CAMPAIGN_MAX_DAYS = 90


def must_visit_due(kind: str, occurred_on: dt.date) -> dt.date:
    """The day a must-visit task is due: ``MUST_VISIT_DAYS[kind]`` working days after the
    event (a year the official calendar does not know yet is estimated, not refused)."""
    from minqing.workdays.selectors import work_calendar

    due, _cal = work_calendar().estimating(
        lambda cal: cal.next_workday(occurred_on, MUST_VISIT_DAYS[EventKind(kind)])
    )
    return due


def liaison_users(household_ids: list[int]) -> dict[int, int]:
    """user id → how many of the households they are a liaison of (active accounts only)."""
    return dict(
        ContactLink.objects.current()
        .filter(
            household_id__in=household_ids,
            liaison__active=True,
            liaison__user__isnull=False,
            liaison__user__is_active=True,
        )
        .order_by()
        .values("liaison__user")
        .annotate(n=Count("household", distinct=True))
        .values_list("liaison__user", "n")
    )


# --------------------------------------------------------------------------- one event


@dataclass
class EventRecorded:
    event: LifeEvent
    task: VisitTask | None
    created: bool  # False: the same form sent again


def event_record(
    *,
    by: User,
    household_id: int,
    kind: str,
    occurred_on: dt.date | None,
    note: str = "",
    client_uuid: uuid.UUID | None = None,
    context: AuditContext | None = None,
    today: dt.date | None = None,
) -> EventRecorded:
    """户情上报 — record an event of a household and what it calls for.

    Raises ``Household.DoesNotExist`` out of scope (answer 404), ``ValidationError`` for bad
    input (nothing written).
    """
    household = (
        Household.objects.visible_to(by).select_related("node", "village").get(pk=household_id)
    )
    if client_uuid is not None:
        again = _replay(client_uuid, household, by)
        if again is not None:
            return again
    note = _clean(kind, occurred_on, note, today or timezone.localdate())
    assert occurred_on is not None  # checked by _clean
    try:
        with transaction.atomic():
            return _write(by, household, kind, occurred_on, note, client_uuid, context)
    except IntegrityError:
        if client_uuid is None:
            raise
        again = _replay(client_uuid, household, by)  # the same form, sent twice at once
        if again is None:
            raise
        return again


def _replay(client_uuid: uuid.UUID, household: Household, by: User) -> EventRecorded | None:
    event = LifeEvent.objects.filter(client_uuid=client_uuid).first()
    if event is None:
        return None
    if event.household_id != household.pk or event.recorded_by_id != by.pk:
        raise ValidationError(
            {
                "client_uuid": ValidationError(
                    _("This form was already used; reload the page."), code=VisitErrorCode.FORM_USED
                )
            }
        )
    return EventRecorded(event, event.tasks.first(), created=False)


def _clean(kind: str, occurred_on: dt.date | None, note: str, today: dt.date) -> str:
    from minqing.lib.text import clean_text

    errors: dict[str, ValidationError] = {}
    if kind not in FORM_KINDS:
        errors["kind"] = ValidationError(
            _("Choose what happened."), code=VisitErrorCode.UNKNOWN_EVENT
        )
    if occurred_on is None:
        errors["occurred_on"] = ValidationError(
            _("Give the day it happened."), code=VisitErrorCode.DATE_REQUIRED
        )
    elif occurred_on > today:
        errors["occurred_on"] = ValidationError(
            _("An event cannot be in the future."), code=VisitErrorCode.EVENT_IN_FUTURE
        )
    elif occurred_on < today - dt.timedelta(days=MAX_AGE_DAYS):
        errors["occurred_on"] = ValidationError(
            _("More than a year ago: write it into the family situation instead."),
            code=VisitErrorCode.EVENT_TOO_OLD,
        )
    try:
        note = clean_text(note, "note", required=False, max_length=200)
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.error_dict.items()})
    else:
        if kind in MUST_REPORT and not note:
            errors["note"] = ValidationError(
                _("Say what changed, for the archive."), code=VisitErrorCode.NOTE_REQUIRED
            )
    if errors:
        raise ValidationError(errors)
    return note


def _write(
    by: User,
    household: Household,
    kind: str,
    occurred_on: dt.date,
    note: str,
    client_uuid: uuid.UUID | None,
    context: AuditContext | None,
) -> EventRecorded:
    from minqing.issues.services import unit_users
    from minqing.notifications.services import Notice, notify_many

    event = LifeEvent.objects.create(
        client_uuid=client_uuid,
        household=household,
        kind=kind,
        occurred_on=occurred_on,
        note=note,
        recorded_by=by,
    )
    label = str(EventKind(kind).label)
    link = reverse("households:detail", args=[household.pk])
    notices = []
    task = None
    if kind in MUST_VISIT_DAYS:
        due = must_visit_due(kind, occurred_on)
        task = VisitTask.objects.create(
            household=household,
            node_path=household.node.path,
            event=event,
            reason=_("Must visit: %(event)s") % {"event": label},
            due_on=due,
        )
        people = liaison_users([household.pk])
        notices.append(
            Notice(
                _users(people),
                kind="visits.must_visit",
                title=_("Visit %(name)s by %(date)s: %(event)s")
                % {"name": household.head_name, "date": due.isoformat(), "event": label},
                body=note,
                link=link,
                obj=task,
            )
        )
    if kind in MUST_REPORT:
        ArchiveChange.objects.create(
            household=household,
            actor=by,
            action=ArchiveChange.Action.UPDATE,
            changes=[["reason", "", f"{label} ({occurred_on.isoformat()}): {note}"]],
        )
        notices.append(
            Notice(
                unit_users(node=household.village),
                kind="visits.must_report",
                title=_("Reported at %(name)s's: %(event)s")
                % {"name": household.head_name, "event": label},
                body=note,
                link=link,
                obj=event,
            )
        )
    audit_record(
        action=AuditAction.VISITS_EVENT_RECORD,
        user=by,
        context=context,
        obj=event,
        detail={"household": household.pk, "kind": kind, "task": task.pk if task else None},
    )
    notify_many(notices)
    return EventRecorded(event, task, created=True)


def _users(counts: dict[int, int]) -> list[Any]:
    from minqing.accounts.models import User

    return list(User.objects.filter(pk__in=list(counts)))


# --------------------------------------------------------------------------- campaigns


def can_run_campaign(user: Any, village: Node) -> bool:
    from minqing.accounts.scope import scope_for

    return scope_for(user).covers_path(village.path, roles=CAMPAIGN_ROLES)


@dataclass
class CampaignStarted:
    campaign: VisitCampaign
    created: int  # tasks added by this run
    households: int  # households the campaign covers now


def campaign_start(
    *,
    by: User,
    village: Node,
    title: str,
    tag_codes: list[str],
    due_on: dt.date | None,
    context: AuditContext | None = None,
    today: dt.date | None = None,
) -> CampaignStarted:
    """节日走访 — a must-visit task for every household of ``village`` with one of the tags.

    Idempotent: the same title and date in the village is the same campaign, and a household
    gets one task per campaign however often (or however concurrently) it is started.
    """
    from minqing.lib.text import clean_text

    if not can_run_campaign(by, village):
        raise PermissionDenied(_("Only cadres of this village, its town or the county do this."))
    today = today or timezone.localdate()
    errors: dict[str, ValidationError] = {}
    if village.level != Level.VILLAGE:
        errors["village"] = ValidationError(
            _("A campaign is for one village."), code=VisitErrorCode.NOT_A_VILLAGE
        )
    try:
        title = clean_text(title, "title", required=True, max_length=100)
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.error_dict.items()})
    tags = list(HouseholdTag.objects.filter(code__in=set(tag_codes)))
    if not tag_codes:
        errors["tags"] = ValidationError(
            _("Choose the households to visit by their tags."), code=VisitErrorCode.TAGS_REQUIRED
        )
    elif len(tags) != len(set(tag_codes)):
        errors["tags"] = ValidationError(_("Unknown tag."), code=VisitErrorCode.UNKNOWN_TAG)
    if due_on is None:
        errors["due_on"] = ValidationError(
            _("Give the day the visits must be done by."), code=VisitErrorCode.DATE_REQUIRED
        )
    elif not today <= due_on <= today + dt.timedelta(days=CAMPAIGN_MAX_DAYS):
        errors["due_on"] = ValidationError(
            _("Between today and %(n)d days from now.") % {"n": CAMPAIGN_MAX_DAYS},
            code=VisitErrorCode.DUE_OUT_OF_RANGE,
        )
    if errors:
        raise ValidationError(errors)
    assert due_on is not None
    # Started twice at once: get_or_create finds the other run's campaign, and the unique
    # (campaign, household) constraint drops the other run's tasks from this one's insert.
    with transaction.atomic():
        return _campaign_write(by, village, title, tags, due_on, context)


def _campaign_write(
    by: User,
    village: Node,
    title: str,
    tags: list[HouseholdTag],
    due_on: dt.date,
    context: AuditContext | None,
) -> CampaignStarted:
    from minqing.notifications.services import Notice, notify_many

    campaign, _new = VisitCampaign.objects.get_or_create(
        village=village, title=title, due_on=due_on, defaults={"created_by": by}
    )
    campaign.tags.add(*tags)
    wanted = dict(
        Household.objects.filter(village=village, tags__in=campaign.tags.all())
        .order_by()
        .values_list("pk", "node__path")
        .distinct()
    )
    have = set(campaign.tasks.values_list("household_id", flat=True))
    missing = sorted(set(wanted) - have)
    reason = _("Holiday visit: %(title)s") % {"title": title}
    VisitTask.objects.bulk_create(
        [
            VisitTask(
                household_id=pk,
                node_path=wanted[pk],
                campaign=campaign,
                reason=reason[:100],
                due_on=due_on,
            )
            for pk in missing
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )
    audit_record(
        action=AuditAction.VISITS_CAMPAIGN_START,
        user=by,
        context=context,
        obj=campaign,
        detail={"village": village.pk, "tags": sorted(t.code for t in tags), "added": len(missing)},
    )
    if missing:
        counts = liaison_users(missing)
        link = reverse("visits:mine")
        notify_many(
            [
                Notice(
                    [user],
                    kind="visits.campaign",
                    title=_("%(title)s: visit %(n)d households by %(date)s")
                    % {"title": title, "n": counts[user.pk], "date": due_on.isoformat()},
                    link=link,
                    obj=campaign,
                )
                for user in _users(counts)
            ]
        )
    return CampaignStarted(campaign, created=len(missing), households=len(wanted))
