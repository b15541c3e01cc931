"""The calendar itself: official facts, deadlines and elapsed working time (no database)."""

from __future__ import annotations

import copy
import datetime as dt
import pickle
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from minqing.workdays.calendar import (
    ANNOUNCED,
    ENTERED,
    UNKNOWN,
    CalendarUnknown,
    WorkCalendar,
    end_of_day,
)

SH = ZoneInfo("Asia/Shanghai")
D = dt.date


def at(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=SH)


def eod(y: int, m: int, d: int) -> dt.datetime:
    return dt.datetime(y, m, d, 23, 59, 59, 999999, tzinfo=SH)


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar()


def test_2026_national_day_and_make_up_days(cal):
    assert D(2026, 9, 20).weekday() == 6 and cal.is_workday(D(2026, 9, 20))  # Sunday, make-up
    assert D(2026, 10, 10).weekday() == 5 and cal.is_workday(D(2026, 10, 10))  # Saturday
    assert [cal.is_workday(D(2026, 10, d)) for d in range(1, 9)] == [False] * 7 + [True]
    assert not cal.is_workday(D(2026, 9, 25))  # Mid-Autumn Festival, a Friday
    assert not cal.is_workday(D(2026, 10, 11))  # an ordinary Sunday
    assert cal.is_workday(D(2026, 11, 23))


def test_2026_other_official_days(cal):
    off = [D(2026, 1, 2), D(2026, 2, 16), D(2026, 2, 20), D(2026, 2, 23), D(2026, 4, 6)]
    off += [D(2026, 5, 4), D(2026, 5, 5), D(2026, 6, 19)]
    work = [D(2026, 1, 4), D(2026, 2, 14), D(2026, 2, 28), D(2026, 5, 9)]
    assert [cal.is_workday(d) for d in off] == [False] * len(off)
    assert [cal.is_workday(d) for d in work] == [True] * len(work)
    assert (
        cal.count_workdays(D(2026, 1, 1), D(2027, 1, 1)) == 248
    )  # 261 weekdays − 19 off + 6 make-up days


def test_year_status(cal):
    assert cal.year_status(2026) == ANNOUNCED
    assert cal.year_status(2001) == ANNOUNCED
    assert cal.year_status(2027) == UNKNOWN
    assert WorkCalendar(entered_years=frozenset({2027})).year_status(2027) == ENTERED


def test_unknown_year_raises_a_clear_validation_error(cal):
    with pytest.raises(CalendarUnknown) as err:
        cal.is_workday(D(2027, 1, 4))
    assert isinstance(err.value, ValidationError)
    assert err.value.year == 2027
    assert str(err.value) == (
        "The official holiday schedule for 2027 is not known yet; enter it under "
        "工作日历 (calendar) first."
    )
    assert err.value.code == "workdays.calendar_unknown"
    assert pickle.loads(pickle.dumps(err.value)).year == 2027  # noqa: S301 - our own bytes
    assert copy.copy(err.value).year == 2027
    assert ValidationError([err.value]).messages == [str(err.value)]


def test_add_workdays_across_national_day(cal):
    friday = at(2026, 9, 18, 10)  # the last Friday worked before the holidays
    assert cal.add_workdays(friday, 1) == eod(2026, 9, 20)  # make-up Sunday counts
    assert cal.add_workdays(friday, 5) == eod(2026, 9, 24)
    assert cal.add_workdays(friday, 6) == eod(2026, 9, 28)  # skips Mid-Autumn and the weekend
    assert cal.add_workdays(friday, 9) == eod(2026, 10, 8)  # skips 1–7 October
    assert cal.add_workdays(friday, 11) == eod(2026, 10, 10)  # make-up Saturday counts
    assert cal.add_workdays(friday, 12) == eod(2026, 10, 12)
    last = at(2026, 9, 30, 16, 30)
    assert cal.add_workdays(last, 1) == eod(2026, 10, 8)
    assert cal.add_workdays(last, 3) == eod(2026, 10, 10)


def test_add_workdays_zero_and_start_instant(cal):
    assert cal.add_workdays(at(2026, 9, 30, 9), 0) == eod(2026, 9, 30)
    assert cal.add_workdays(at(2026, 10, 3, 9), 0) == eod(2026, 10, 8)
    assert cal.add_workdays(at(2026, 10, 3, 9), 1) == eod(2026, 10, 8)
    # the local date decides: 20:00 UTC on 30 September is already 1 October in Shanghai
    utc = dt.datetime(2026, 9, 30, 20, tzinfo=dt.UTC)
    assert cal.add_workdays(utc, 1) == eod(2026, 10, 8)
    assert cal.add_workdays(dt.datetime(2026, 9, 30, 15, tzinfo=dt.UTC), 1) == eod(2026, 10, 8)
    due = cal.add_workdays(at(2026, 11, 23), 1)
    assert due.tzinfo is not None and due.utcoffset() == dt.timedelta(hours=8)
    assert end_of_day(D(2026, 11, 24)) == due
    with pytest.raises(ValueError):
        cal.add_workdays(at(2026, 11, 23), -1)
    with pytest.raises(ValueError):
        cal.add_workdays(dt.datetime(2026, 11, 23), 1)  # noqa: DTZ001 - naive on purpose


def test_add_workdays_into_an_unknown_year(cal):
    assert cal.add_workdays(at(2026, 12, 28), 3) == eod(2026, 12, 31)
    with pytest.raises(CalendarUnknown):
        cal.add_workdays(at(2026, 12, 28), 4)
    entered = WorkCalendar(entered_years=frozenset({2027}))
    # the library's statutory New Year's Day 2027 is a Friday: the next working day is 4 Jan
    assert entered.add_workdays(at(2026, 12, 28), 4) == eod(2027, 1, 4)


def test_county_overrides(cal):
    assert cal.add_workdays(at(2026, 12, 28), 2) == eod(2026, 12, 30)
    county = WorkCalendar(overrides={D(2026, 12, 30): False, D(2026, 10, 7): True})
    assert county.add_workdays(at(2026, 12, 28), 2) == eod(2026, 12, 31)
    assert county.add_workdays(at(2026, 9, 30), 1) == eod(2026, 10, 7)


def test_add_months(cal):
    assert cal.add_months(at(2026, 8, 7, 10), 1) == eod(2026, 9, 7)  # a Monday
    assert cal.add_months(at(2026, 9, 1, 10), 1) == eod(2026, 10, 8)  # 1 Oct → first workday
    assert cal.add_months(at(2026, 8, 10), 2) == eod(2026, 10, 10)  # make-up Saturday
    assert cal.add_months(at(2026, 8, 31), 1) == eod(2026, 9, 30)  # clipped to month end
    assert cal.add_months(at(2026, 1, 31), 1) == eod(2026, 2, 28)  # a make-up Saturday
    assert cal.add_months(at(2026, 1, 22), 1) == eod(2026, 2, 24)  # Spring Festival
    assert cal.add_months(at(2026, 11, 21), 0) == eod(2026, 11, 23)
    assert cal.add_months(at(2026, 10, 30), 1) == eod(2026, 11, 30)
    with pytest.raises(CalendarUnknown):
        cal.add_months(at(2026, 12, 15), 1)


def test_elapsed_fraction_is_exact(cal):
    start = at(2026, 11, 23)  # Monday 00:00: the whole start day is working time
    due = cal.add_workdays(start, 9)
    assert due == eod(2026, 12, 4)
    assert cal.workdays_between(start, due) == 10.0
    assert cal.elapsed_fraction(start, due, at(2026, 12, 2)) == 0.7
    assert cal.instant_at_fraction(start, due, 0.7) == at(2026, 12, 2)
    assert cal.elapsed_fraction(start, due, at(2026, 12, 1, 23, 59)) < 0.7
    # the weekend holds no working time
    assert cal.elapsed_fraction(start, due, at(2026, 11, 28)) == 0.5
    assert cal.elapsed_fraction(start, due, at(2026, 11, 29, 18)) == 0.5
    assert cal.elapsed_fraction(start, due, at(2026, 11, 23, 12)) == 0.05
    assert cal.elapsed_fraction(start, due, at(2026, 11, 22)) == 0.0
    assert cal.elapsed_fraction(start, due, due) == 1.0
    assert cal.elapsed_fraction(start, due, at(2027, 3, 1)) == 1.0  # no need to know 2027


def test_elapsed_fraction_from_a_midday_start_across_holidays(cal):
    start = at(2026, 9, 30, 12)
    due = cal.add_workdays(start, 3)
    assert due == eod(2026, 10, 10)
    assert cal.workdays_between(start, due) == 3.5
    assert cal.elapsed_fraction(start, due, at(2026, 10, 5, 9)) == 0.5 / 3.5
    assert cal.elapsed_fraction(start, due, at(2026, 10, 9, 12)) == 2.0 / 3.5
    warn = cal.instant_at_fraction(start, due, 0.7)
    assert warn == at(2026, 10, 9, 22, 48)  # 0.7 × 3.5 = 2.45 working days after the start
    assert cal.elapsed_fraction(start, due, warn) == 0.7
    assert cal.elapsed_fraction(start, due, warn - dt.timedelta(seconds=1)) < 0.7


def test_workdays_between(cal):
    assert cal.workdays_between(at(2026, 9, 30), at(2026, 10, 9)) == 2.0
    assert cal.workdays_between(at(2026, 10, 1), at(2026, 10, 8)) == 0.0
    assert cal.workdays_between(at(2026, 10, 9), at(2026, 9, 30)) == 0.0
    assert cal.workdays_between(at(2026, 9, 19), at(2026, 9, 21, 6)) == 1.25  # make-up Sunday
    assert cal.workdays_between(at(2026, 12, 31), eod(2026, 12, 31)) == 1.0


def test_due_day_without_working_time(cal):
    start = eod(2026, 11, 23)
    due = cal.add_workdays(start, 0)
    assert due == start
    assert cal.elapsed_fraction(start, due, start) == 1.0
    assert cal.instant_at_fraction(start, due, 0.7) == due


def test_estimating_takes_an_unentered_year_by_the_estimate_and_says_so(monkeypatch):
    from minqing.workdays import calendar

    monkeypatch.setattr(calendar, "ANNOUNCED_YEARS", frozenset({2026}))
    cal = WorkCalendar()
    due, used = cal.estimating(lambda c: c.add_workdays(at(2026, 12, 28), 4))
    # New Year's Day 2027 (a Friday) by the statute; the weekend; Monday 4 January.
    assert due == eod(2027, 1, 4)
    assert used.estimated_years == frozenset({2027})
    assert used.year_estimated(2027) and cal.year_estimated(2027)
    assert not used.year_estimated(2026)
    # Nothing to estimate: the same calendar back, nothing said.
    same, unchanged = cal.estimating(lambda c: c.add_workdays(at(2026, 12, 1), 1))
    assert same == eod(2026, 12, 2) and unchanged is cal and not unchanged.estimated_years
    # Two unknown years in one computation: 300 working days run through 2027 into 2028.
    far, both = cal.estimating(lambda c: c.add_workdays(at(2026, 12, 1), 300))
    assert both.estimated_years == frozenset({2027, 2028}) and far.year == 2028
    # A county that entered 2027: its days, nothing estimated.
    entered = WorkCalendar(entered_years=frozenset({2027}))
    _due, used = entered.estimating(lambda c: c.add_workdays(at(2026, 12, 28), 4))
    assert not used.estimated_years and not used.year_estimated(2027)
