"""Changing the calendar: permissions, audit rows, and every process seeing the change."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from minqing.accounts.models import Role
from minqing.audit.models import AuditEvent
from minqing.conftest import make_user
from minqing.lib.errors import PermissionDenied
from minqing.tests.dbstate import nothing_written
from minqing.workdays import selectors
from minqing.workdays.calendar import ENTERED, UNKNOWN, CalendarUnknown
from minqing.workdays.models import CalendarDay, CalendarRevision, CalendarYear
from minqing.workdays.services import (
    calendar_day_clear,
    calendar_day_set,
    calendar_year_mark_entered,
)

SH = ZoneInfo("Asia/Shanghai")
D = dt.date


def at(y: int, m: int, d: int, h: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, tzinfo=SH)


def eod(y: int, m: int, d: int) -> dt.datetime:
    return dt.datetime(y, m, d, 23, 59, 59, 999999, tzinfo=SH)


def test_county_day_off_changes_the_deadline(county_user):
    assert selectors.work_calendar().add_workdays(at(2026, 12, 28, 9), 2) == eod(2026, 12, 30)
    day = calendar_day_set(by=county_user, date=D(2026, 12, 30), is_workday=False, name="停电")
    assert (day.is_workday, day.name, day.updated_by) == (False, "停电", county_user)
    assert selectors.work_calendar().add_workdays(at(2026, 12, 28, 9), 2) == eod(2026, 12, 31)
    calendar_day_clear(by=county_user, date=D(2026, 12, 30))
    assert selectors.work_calendar().add_workdays(at(2026, 12, 28, 9), 2) == eod(2026, 12, 30)
    assert CalendarDay.objects.count() == 0


def test_setting_a_day_again_updates_it(county_user):
    calendar_day_set(by=county_user, date=D(2026, 10, 7), is_workday=True, name="a")
    calendar_day_set(by=county_user, date=D(2026, 10, 7), is_workday=False, name="b")
    assert list(CalendarDay.objects.values_list("date", "is_workday", "name")) == [
        (D(2026, 10, 7), False, "b")
    ]
    details = [e.detail for e in AuditEvent.objects.filter(action="calendar.day_set")]
    assert details == [
        {
            "date": "2026-10-07",
            "is_workday": True,
            "name": "a",
            "before": None,
            "library_is_workday": False,
        },
        {
            "date": "2026-10-07",
            "is_workday": False,
            "name": "b",
            "before": {"is_workday": True, "name": "a"},
            "library_is_workday": False,
        },
    ]


def test_every_change_is_audited(county_user):
    calendar_day_set(by=county_user, date=D(2027, 2, 20), is_workday=True, name="春节调休上班")
    calendar_day_clear(by=county_user, date=D(2027, 2, 20))
    calendar_year_mark_entered(by=county_user, year=2027, note="国办发明电〔2026〕x号")
    events = list(
        AuditEvent.objects.filter(action__startswith="calendar.").values_list(
            "action", "username", "object_type"
        )
    )
    assert events == [
        ("calendar.day_set", "county_user", "workdays.calendarday"),
        ("calendar.day_clear", "county_user", "workdays.calendarday"),
        ("calendar.year_entered", "county_user", "workdays.calendaryear"),
    ]
    assert AuditEvent.objects.get(action="calendar.year_entered").detail == {
        "year": 2027,
        "note": "国办发明电〔2026〕x号",
        "again": False,
        "county_days": 0,
    }


def test_unknown_2027_until_the_county_enters_it(county_user):
    start = at(2026, 12, 24, 15)  # a stage opened on Christmas Eve with 10 working days
    with pytest.raises(CalendarUnknown) as err:
        selectors.work_calendar().add_workdays(start, 10)
    assert "2027" in str(err.value)
    assert selectors.work_calendar().year_status(2027) == UNKNOWN

    # The schedule for 2027 (invented for the test): 1–3 January off, Sunday 10 January worked.
    calendar_day_set(by=county_user, date=D(2027, 1, 10), is_workday=True, name="元旦调休上班")
    with pytest.raises(CalendarUnknown):  # days alone do not make the year known
        selectors.work_calendar().add_workdays(start, 10)
    entry = calendar_year_mark_entered(by=county_user, year=2027, note="国务院通知")
    assert (entry.year, entry.entered_by, entry.note) == (2027, county_user, "国务院通知")

    cal = selectors.work_calendar()
    assert cal.year_status(2027) == ENTERED
    assert not cal.is_workday(D(2027, 1, 1))
    assert cal.is_workday(D(2027, 1, 10))
    # 25, 28–31 Dec; 4–8 Jan; 10 Jan (Sunday, make-up) is the 11th working day
    assert cal.add_workdays(start, 10) == eod(2027, 1, 8)
    assert cal.add_workdays(start, 11) == eod(2027, 1, 10)
    assert cal.add_workdays(start, 12) == eod(2027, 1, 11)
    assert cal.add_months(at(2026, 12, 1), 1) == eod(2027, 1, 4)


def test_marking_a_year_twice_keeps_one_row(county_user):
    calendar_year_mark_entered(by=county_user, year=2027)
    calendar_year_mark_entered(by=county_user, year=2027, note="corrected")
    assert list(CalendarYear.objects.values_list("year", "note")) == [(2027, "corrected")]


@pytest.mark.parametrize("role", [Role.VILLAGE_CADRE, Role.TOWN_STAFF, None])
def test_only_the_command_centre_and_system_admin_may_change(county, role):
    user = make_user("someone", role, county.village_a if role else None)
    for call in (
        lambda: calendar_day_set(by=user, date=D(2026, 12, 30), is_workday=False),
        lambda: calendar_day_clear(by=user, date=D(2026, 12, 30)),
        lambda: calendar_year_mark_entered(by=user, year=2027),
    ):
        with nothing_written(), pytest.raises(PermissionDenied):
            call()
    assert CalendarDay.objects.count() == CalendarYear.objects.count() == 0
    assert not AuditEvent.objects.filter(action__startswith="calendar.").exists()


def test_system_admin_may_change(county):
    admin = make_user("sysadmin", Role.SYSTEM_ADMIN)
    calendar_day_set(by=admin, date=D(2026, 12, 30), is_workday=False)
    assert CalendarDay.objects.get().updated_by == admin


def test_bad_input_changes_nothing(county_user):
    for call in (
        lambda: calendar_day_set(by=county_user, date=D(1999, 1, 4), is_workday=False),
        lambda: calendar_day_set(
            by=county_user, date=D(2026, 1, 5), is_workday=False, name="x" * 101
        ),
        lambda: calendar_day_set(by=county_user, date=at(2026, 1, 5), is_workday=False),
        lambda: calendar_day_clear(by=county_user, date=D(2026, 1, 5)),  # nothing to clear
        lambda: calendar_year_mark_entered(by=county_user, year=3000),
    ):
        with nothing_written(), pytest.raises(ValidationError):
            call()
    assert CalendarDay.objects.count() == CalendarYear.objects.count() == 0
    assert not CalendarRevision.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="calendar.").exists()


def test_work_calendar_is_cached_until_a_change(county_user, django_assert_num_queries):
    first = selectors.work_calendar()
    with django_assert_num_queries(1):  # the revision token only
        assert selectors.work_calendar() is first
    calendar_day_set(by=county_user, date=D(2026, 12, 30), is_workday=False)
    with django_assert_num_queries(3):  # token, days, years
        second = selectors.work_calendar()
    assert second is not first and second.overrides == {D(2026, 12, 30): False}
    with django_assert_num_queries(1):
        assert selectors.work_calendar() is second


def test_another_process_change_is_seen(county_user):
    """Another process writes the rows and renews the token: this process reloads."""
    cached = selectors.work_calendar()
    CalendarDay.objects.create(date=D(2026, 12, 30), is_workday=False, updated_at=at(2026, 11, 23))
    CalendarRevision.objects.update_or_create(
        pk=1, defaults={"token": "from-another-process", "changed_at": at(2026, 11, 23)}
    )
    fresh = selectors.work_calendar()
    assert fresh is not cached and fresh.token == "from-another-process"
    assert not fresh.is_workday(D(2026, 12, 30))


def test_many_deadlines_need_no_queries(db, django_assert_num_queries):
    cal = selectors.work_calendar()
    starts = [at(2026, 1, 1) + dt.timedelta(hours=4 * i) for i in range(1200)]
    with django_assert_num_queries(0):
        dues = [cal.add_workdays(s, 15) for s in starts]
        fractions = [
            cal.elapsed_fraction(s, d, at(2026, 6, 1)) for s, d in zip(starts, dues, strict=True)
        ]
    assert dues[0] == eod(2026, 1, 22)  # 2 Jan off, make-up Sunday 4 Jan counts
    assert fractions[0] == 1.0 and fractions[-1] == 0.0
