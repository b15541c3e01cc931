"""Changes to the working-day calendar: one function per change, used by the page and the CLI.

Only the county command centre and system administrators may change it. Every change writes an
audit row and renews ``CalendarRevision`` in the same transaction, so each process reloads its
cached ``WorkCalendar`` on its next ``selectors.work_calendar()``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.models import Role, User
from minqing.accounts.permissions import covers_every_county
from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_record
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied
from minqing.workdays.calendar import MAX_YEAR, MIN_YEAR, WorkCalendar
from minqing.workdays.errors import WorkdaysErrorCode
from minqing.workdays.models import CalendarDay, CalendarRevision, CalendarYear

EDIT_ROLES = frozenset({Role.COMMAND_CENTRE, Role.SYSTEM_ADMIN})
NAME_MAX = CalendarDay._meta.get_field("name").max_length or 100
NOTE_MAX = CalendarYear._meta.get_field("note").max_length or 200


def can_edit_calendar(user: Any) -> bool:
    return covers_every_county(user, EDIT_ROLES)


def _require_edit(by: User) -> None:
    if not can_edit_calendar(by):
        raise PermissionDenied(
            _(
                "Only the county command centre or a system administrator may change the "
                "working-day calendar."
            )
        )


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationError(
            _("The calendar covers the years %(min)s to %(max)s."),
            code=WorkdaysErrorCode.YEAR_RANGE,
            params={"min": MIN_YEAR, "max": MAX_YEAR},
        )


def _library_says(date: dt.date) -> bool:
    """Working day by the official schedule alone (kept in the audit detail)."""
    return WorkCalendar().is_workday_estimate(date)


def _renew_revision() -> None:
    CalendarRevision.objects.update_or_create(
        pk=1, defaults={"token": uuid.uuid4().hex, "changed_at": timezone.now()}
    )


def calendar_day_set(
    *,
    by: User,
    date: dt.date,
    is_workday: bool,
    name: str = "",
    context: AuditContext | None = None,
) -> CalendarDay:
    """Declare ``date`` a working day or a day off for the county, whatever the library says."""
    _require_edit(by)
    if isinstance(date, dt.datetime) or not isinstance(date, dt.date):
        raise ValidationError(_("Enter a valid date."), code="invalid_date")
    _check_year(date.year)
    name = (name or "").strip()
    if len(name) > NAME_MAX:
        raise ValidationError(
            _("The name may have at most %(max)s characters."),
            code=WorkdaysErrorCode.NAME_LENGTH,
            params={"max": NAME_MAX},
        )
    with transaction.atomic():
        day = CalendarDay.objects.select_for_update().filter(date=date).first()
        before = None if day is None else {"is_workday": day.is_workday, "name": day.name}
        if day is None:
            day = CalendarDay(date=date)
        day.is_workday = bool(is_workday)
        day.name = name
        day.updated_by = by
        day.updated_at = timezone.now()
        day.save()
        _renew_revision()
        audit_record(
            action=AuditAction.CALENDAR_DAY_SET,
            user=by,
            context=context,
            obj=day,
            detail={
                "date": date.isoformat(),
                "is_workday": day.is_workday,
                "name": name,
                "before": before,
                "library_is_workday": _library_says(date),
            },
        )
    return day


def calendar_day_clear(*, by: User, date: dt.date, context: AuditContext | None = None) -> None:
    """Remove the county's entry for ``date``: the library's schedule applies again."""
    _require_edit(by)
    with transaction.atomic():
        day = CalendarDay.objects.select_for_update().filter(date=date).first()
        if day is None:
            raise ValidationError(
                _("There is no county entry for %(date)s."),
                code=WorkdaysErrorCode.NO_ENTRY,
                params={"date": date.isoformat() if isinstance(date, dt.date) else date},
            )
        audit_record(
            action=AuditAction.CALENDAR_DAY_CLEAR,
            user=by,
            context=context,
            obj=day,
            detail={
                "date": day.date.isoformat(),
                "before": {"is_workday": day.is_workday, "name": day.name},
                "library_is_workday": _library_says(day.date),
            },
        )
        day.delete()
        _renew_revision()


def calendar_year_mark_entered(
    *, by: User, year: int, note: str = "", context: AuditContext | None = None
) -> CalendarYear:
    """Declare ``year``'s official schedule entered (its differences from the library's
    estimate are ``CalendarDay`` rows): deadlines may run into it from now on."""
    _require_edit(by)
    _check_year(year)
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise ValidationError(
            _("The note may have at most %(max)s characters."),
            code=WorkdaysErrorCode.NOTE_LENGTH,
            params={"max": NOTE_MAX},
        )
    with transaction.atomic():
        entry, created = CalendarYear.objects.select_for_update().get_or_create(
            year=year, defaults={"entered_by": by, "entered_at": timezone.now(), "note": note}
        )
        if not created:
            entry.entered_by = by
            entry.entered_at = timezone.now()
            entry.note = note
            entry.save(update_fields=["entered_by", "entered_at", "note"])
        _renew_revision()
        audit_record(
            action=AuditAction.CALENDAR_YEAR_ENTERED,
            user=by,
            context=context,
            obj=entry,
            detail={
                "year": year,
                "note": note,
                "again": not created,
                "county_days": CalendarDay.objects.filter(date__year=year).count(),
            },
        )
    return entry
