"""Working days (工作日) by China's official calendar, and deadlines counted in them.

A date is a working day when, in this order of precedence:

1. the county has entered it (``CalendarDay``): its ``is_workday`` decides;
2. the ``holidays`` package lists it as a make-up working day (调休上班, ``weekend_workdays``):
   working day;
3. the package lists it as a holiday or a substituted day off (节假日, 调休): day off;
4. otherwise Monday to Friday are working days, Saturday and Sunday are not.

A year is *known* when the package carries the State Council's announced schedule for it (the
year has entries in ``ChinaStaticHolidays.special_public_holidays``: every announced year has
substituted days) or when the county has marked it entered (``CalendarYear``). For any other
year the package would only estimate, so asking about one of its dates raises
``CalendarUnknown`` instead of guessing. An entered year starts from the package's estimate
(statutory holidays, plus the weekday the law gives for one that falls on a weekend); the
county enters the differences as ``CalendarDay`` rows before marking the year entered.

Deadlines (all instants timezone-aware, days taken in ``settings.TIME_ZONE``, Asia/Shanghai):

- ``add_workdays(T, N)``: due at the end of the day (23:59:59.999999 local time) of the Nth
  working day after T's date; the start day itself does not count. N = 0: the end of the start
  day if it is a working day, else the end of the next working day.
- ``add_months(T, N)``: the same day of the month N months later (the month's last day if it
  is shorter), moved forward to the next working day if it is not one; due at its end.

Elapsed working time (for the 70 % yellow light): every working day counts as 24 hours of
working time, every other day as none. ``workdays_between(a, b)`` is the working time in
[a, b) in days (a float; 0 when b <= a). ``elapsed_fraction(start, due, now)`` is
``workdays_between(start, now) / workdays_between(start, due)``, clamped to [0, 1]: 0 before
the start, 1 at and after the due time. The end-of-day instant 23:59:59.999999 stands for the
following midnight, so a due day counts whole and the fractions come out exact.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TypeVar

import holidays
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from holidays.countries.china import ChinaStaticHolidays

from minqing.workdays.errors import WorkdaysErrorCode

DAY_US = 86_400_000_000  # microseconds in a day
#: Years the package carries the State Council's announced schedule for.
ANNOUNCED_YEARS = frozenset(ChinaStaticHolidays.special_public_holidays)
MIN_YEAR, MAX_YEAR = 2000, 2100

ANNOUNCED, ENTERED, UNKNOWN = "announced", "entered", "unknown"

T = TypeVar("T")


class CalendarUnknown(ValidationError):
    """The official schedule of a year is neither in the library nor entered by the county."""

    def __init__(self, year: int) -> None:
        self.year = year
        super().__init__(
            _(
                "The official holiday schedule for %(year)s is not known yet; enter it under "
                "工作日历 (calendar) first."
            ),
            code=WorkdaysErrorCode.CALENDAR_UNKNOWN,
            params={"year": year},
        )

    def __str__(self) -> str:
        return str(self.messages[0])

    def __reduce__(self) -> tuple[type[CalendarUnknown], tuple[int]]:
        return type(self), (self.year,)  # copy and pickle (e.g. to a worker) need the year


@functools.lru_cache(maxsize=256)
def library_year(year: int) -> tuple[frozenset[dt.date], frozenset[dt.date]]:
    """(days off, make-up working days) of ``year`` by the ``holidays`` package."""
    # A make-up day late in December can belong to the next year's notice (e.g. 2001-12-29
    # for New Year 2002), so the next year is populated too.
    lib = holidays.China(years=(year, year + 1), language="en_US")
    off = frozenset(d for d in lib if d.year == year)
    makeup = frozenset(d for d in lib.weekend_workdays if d.year == year)
    return off, makeup


@functools.lru_cache(maxsize=64)
def library_names(year: int, language: str) -> dict[dt.date, str]:
    """Holiday names of ``year`` in ``language`` ("zh_CN" or "en_US"), for display."""
    lib = holidays.China(years=year, language=language)
    return {d: name for d, name in lib.items() if d.year == year}


def end_of_day(day: dt.date) -> dt.datetime:
    """The last instant of ``day`` in local time: the moment a deadline on that day runs out."""
    return dt.datetime.combine(day, dt.time.max, tzinfo=timezone.get_default_timezone())


def _point(instant: dt.datetime) -> tuple[dt.date, int]:
    """(local date, microseconds since local midnight); end of day counts as next midnight."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware one")
    local = timezone.localtime(instant)
    t = local.time()
    if t == dt.time.max:
        return local.date() + dt.timedelta(days=1), 0
    us = ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond
    return local.date(), us


@dataclass
class WorkCalendar:
    """The calendar as loaded once (see ``selectors.work_calendar``): answers without queries.

    ``overrides`` maps the county's dates to is_workday; ``entered_years`` are the years the
    county has marked entered; ``estimated_years`` the unknown years this calendar takes by the
    package's estimate (see ``estimating``). Safe to share between threads (its caches only ever
    grow).
    """

    overrides: dict[dt.date, bool] = field(default_factory=dict)
    entered_years: frozenset[int] = frozenset()
    token: str = ""
    estimated_years: frozenset[int] = frozenset()
    _cum: dict[int, list[int]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _assumed: dict[int, WorkCalendar] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    # ---- years and days -----------------------------------------------------------------

    def year_status(self, year: int) -> str:
        """``ANNOUNCED`` (the library has it), ``ENTERED`` (the county has) or ``UNKNOWN``."""
        if year in ANNOUNCED_YEARS:
            return ANNOUNCED
        if year in self.entered_years:
            return ENTERED
        return UNKNOWN

    def is_known(self, year: int) -> bool:
        return self.year_status(year) != UNKNOWN

    def year_estimated(self, year: int) -> bool:
        """True when ``year``'s days come only from the package's estimate: nobody entered it
        (this calendar may take it by the estimate, see ``estimating``)."""
        return year in self.estimated_years or self.year_status(year) == UNKNOWN

    def assuming(self, year: int) -> WorkCalendar:
        """This calendar with ``year`` taken by the package's estimate (see ``estimating``)."""
        if self.is_known(year):
            return self
        assumed = self._assumed.get(year)
        if assumed is None:
            assumed = self._assumed[year] = WorkCalendar(
                overrides=self.overrides,
                entered_years=self.entered_years | {year},
                token=self.token,
                estimated_years=self.estimated_years | {year},
            )
        return assumed

    def estimating(self, compute: Callable[[WorkCalendar], T]) -> tuple[T, WorkCalendar]:
        """``compute(calendar)``, taking any year nobody has entered yet by the package's
        estimate (statutory holidays and weekends, no make-up days) instead of refusing.

        Work that must go on whatever the date — an issue's deadline, a must-visit task, the
        service day, the demo — calls this; it returns the result and the calendar that gave
        it, whose ``estimated_years`` say what the caller should show as an estimate. This is
        the one place where an unknown year is estimated."""
        cal = self
        while True:
            try:
                return compute(cal), cal
            except CalendarUnknown as exc:
                if cal.is_known(exc.year):  # raised for a year we already took: a real error
                    raise
                cal = cal.assuming(exc.year)

    def is_workday_estimate(self, day: dt.date) -> bool:
        """Working day or not by the rules above, for any year (an unknown one included)."""
        if day in self.overrides:
            return self.overrides[day]
        off, makeup = library_year(day.year)
        if day in makeup:
            return True
        if day in off:
            return False
        return day.weekday() < 5

    def is_workday(self, day: dt.date) -> bool:
        """Working day or not; ``CalendarUnknown`` for a day of an unknown year."""
        if not self.is_known(day.year):
            raise CalendarUnknown(day.year)
        return self.is_workday_estimate(day)

    def _cumulative(self, year: int) -> list[int]:
        """c[i] = working days among days 1..i of ``year`` (c[0] = 0)."""
        cum = self._cum.get(year)
        if cum is None:
            if not self.is_known(year):
                raise CalendarUnknown(year)
            day, one = dt.date(year, 1, 1), dt.timedelta(days=1)
            cum, n = [0], 0
            while day.year == year:
                n += self.is_workday_estimate(day)
                cum.append(n)
                day += one
            self._cum[year] = cum
        return cum

    def count_workdays(self, first: dt.date, stop: dt.date) -> int:
        """Working days in [first, stop)."""
        if stop <= first:
            return 0
        last = stop - dt.timedelta(days=1)
        total = 0
        for year in range(first.year, last.year + 1):
            cum = self._cumulative(year)
            lo = first.timetuple().tm_yday if year == first.year else 1
            hi = last.timetuple().tm_yday if year == last.year else len(cum) - 1
            total += cum[hi] - cum[lo - 1]
        return total

    def next_workday(self, day: dt.date, n: int = 1) -> dt.date:
        """The nth working day strictly after ``day`` (n >= 1)."""
        if n < 1:
            raise ValueError("n must be at least 1")
        year = day.year
        cum = self._cumulative(year)
        target = cum[day.timetuple().tm_yday] + n
        while target > cum[-1]:
            target -= cum[-1]
            year += 1
            cum = self._cumulative(year)
        # cum rises by one exactly on working days: the first index reaching target is one.
        return dt.date(year, 1, 1) + dt.timedelta(days=bisect_left(cum, target) - 1)

    # ---- deadlines ----------------------------------------------------------------------

    def add_workdays(self, start: dt.datetime, n: int) -> dt.datetime:
        """End of the nth working day after ``start``'s local date (see the module docstring)."""
        if n < 0:
            raise ValueError("n must not be negative")
        day = timezone.localtime(start).date()
        if n == 0 and self.is_workday(day):
            return end_of_day(day)
        return end_of_day(self.next_workday(day, max(n, 1)))

    def add_months(self, start: dt.datetime, n: int) -> dt.datetime:
        """End of the same day of the month n months on, or of the next working day after it."""
        if n < 0:
            raise ValueError("n must not be negative")
        day = timezone.localtime(start).date()
        years, month0 = divmod(day.month - 1 + n, 12)
        year, month = day.year + years, month0 + 1
        last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
        target = dt.date(year, month, min(day.day, last))
        if not self.is_workday(target):
            target = self.next_workday(target)
        return end_of_day(target)

    # ---- elapsed working time -----------------------------------------------------------

    def working_microseconds(self, a: dt.datetime, b: dt.datetime) -> int:
        """Working time in [a, b) in microseconds (0 when b <= a)."""
        (da, ua), (db, ub) = _point(a), _point(b)
        if (db, ub) <= (da, ua):
            return 0
        if da == db:
            return ub - ua if self.is_workday(da) else 0
        us = DAY_US - ua if self.is_workday(da) else 0
        us += self.count_workdays(da + dt.timedelta(days=1), db) * DAY_US
        if ub and self.is_workday(db):  # at midnight db itself is not needed (may be unknown)
            us += ub
        return us

    def workdays_between(self, a: dt.datetime, b: dt.datetime) -> float:
        """Working time in [a, b) in working days; 0.0 when b <= a."""
        return self.working_microseconds(a, b) / DAY_US

    def elapsed_fraction(self, start: dt.datetime, due: dt.datetime, now: dt.datetime) -> float:
        """Share of the stage's working time gone at ``now``: 0.0 … 1.0 (1.0 from ``due`` on)."""
        if now >= due:
            return 1.0
        if now <= start:
            return 0.0
        total = self.working_microseconds(start, due)
        if total == 0:
            return 0.0
        return min(1.0, self.working_microseconds(start, now) / total)

    def instant_at_fraction(
        self, start: dt.datetime, due: dt.datetime, fraction: float | Fraction
    ) -> dt.datetime:
        """The first instant at which ``elapsed_fraction`` reaches ``fraction`` (e.g. 0.7 for
        the yellow light); ``due`` when the stage holds no working time."""
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be between 0 and 1")
        total = self.working_microseconds(start, due)
        if total == 0:
            return due if fraction > 0 else start
        need = math.ceil(total * Fraction(fraction))
        if need == 0:
            return start
        day, us = _point(start)
        while True:
            if self.is_workday(day):
                if need <= DAY_US - us:
                    midnight = dt.datetime.combine(
                        day, dt.time.min, tzinfo=timezone.get_default_timezone()
                    )
                    return midnight + dt.timedelta(microseconds=us + need)
                need -= DAY_US - us
            day, us = day + dt.timedelta(days=1), 0
