"""Reading the working-day calendar.

``work_calendar()`` is what deadline code uses: one query per call while nothing has changed
(the revision token), three after a change. Call it once per request or sweep and reuse the
``WorkCalendar``; it answers every date question without further queries.
"""

from __future__ import annotations

import calendar as pycalendar
import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import get_language, gettext

from minqing.workdays.calendar import (
    ANNOUNCED,
    ENTERED,
    UNKNOWN,
    CalendarUnknown,
    WorkCalendar,
    library_names,
    library_year,
)
from minqing.workdays.models import CalendarDay, CalendarRevision, CalendarYear

__all__ = [
    "ANNOUNCED",
    "ENTERED",
    "UNKNOWN",
    "CalendarUnknown",
    "WorkCalendar",
    "work_calendar",
    "year_overview",
]

_cached: WorkCalendar | None = None


def work_calendar() -> WorkCalendar:
    """The calendar with the county's entries, cached per process until any process changes
    it (every change renews ``CalendarRevision.token``)."""
    global _cached
    # Read the token first: a change committed between the two reads then leaves an old token
    # beside new data, which the next call reloads, never the other way round.
    token = CalendarRevision.objects.filter(pk=1).values_list("token", flat=True).first() or ""
    cached = _cached
    if cached is not None and cached.token == token:
        return cached
    overrides = dict(CalendarDay.objects.values_list("date", "is_workday"))
    entered = frozenset(CalendarYear.objects.values_list("year", flat=True))
    fresh = WorkCalendar(overrides=overrides, entered_years=entered, token=token)
    _cached = fresh  # one assignment: threads see the old calendar or the new one
    return fresh


# ---- the calendar page and ``calendar_show`` ----------------------------------------------

OFF, WORK, MAKEUP, WEEKEND = "off", "work", "makeup", "weekend"


@dataclass
class Day:
    """One date as the calendar page shows it."""

    date: dt.date
    is_workday: bool
    #: OFF (a day off on a weekday, or a named holiday), MAKEUP (a working Saturday/Sunday),
    #: WEEKEND (an ordinary Saturday/Sunday) or WORK (an ordinary weekday)
    kind: str
    name: str = ""
    county: CalendarDay | None = None  # the county's entry, when there is one
    today: bool = False

    @property
    def special(self) -> bool:
        return self.kind in (OFF, MAKEUP) or self.county is not None


@dataclass
class Month:
    first: dt.date
    weeks: list[list[Day | None]] = field(default_factory=list)


@dataclass
class YearOverview:
    year: int
    status: str  # ANNOUNCED, ENTERED or UNKNOWN
    entered: CalendarYear | None
    months: list[Month]
    special_days: list[Day]  # days off, make-up working days and county entries, in order

    @property
    def county_days(self) -> list[Day]:
        return [d for d in self.special_days if d.county is not None]


def _library_language() -> str:
    return "en_US" if (get_language() or "").startswith("en") else "zh_CN"


def year_overview(year: int, *, calendar: WorkCalendar | None = None) -> YearOverview:
    """Every day of ``year`` with its status and name; the year's status. Three queries at
    most, whatever the year."""
    cal = calendar or work_calendar()
    status = cal.year_status(year)
    entered = CalendarYear.objects.select_related("entered_by").filter(year=year).first()
    county = {
        d.date: d for d in CalendarDay.objects.select_related("updated_by").filter(date__year=year)
    }
    names = library_names(year, _library_language())
    _, makeup = library_year(year)
    today = timezone.localdate()
    months: list[Month] = []
    special: list[Day] = []
    for month in range(1, 13):
        m = Month(first=dt.date(year, month, 1))
        for week in pycalendar.Calendar().monthdatescalendar(year, month):
            row: list[Day | None] = []
            for date in week:
                if date.month != month:
                    row.append(None)
                    continue
                entry = county.get(date)
                is_workday = cal.is_workday_estimate(date)
                weekend = date.weekday() >= 5
                if is_workday:
                    kind = MAKEUP if weekend else WORK
                else:
                    kind = OFF if (not weekend or date in names) else WEEKEND
                if entry is not None and entry.name:
                    name = entry.name
                elif kind == MAKEUP and date in makeup:
                    name = gettext("Make-up working day")
                else:
                    name = names.get(date, "") if not is_workday else ""
                day = Day(date, is_workday, kind, name, entry, date == today)
                row.append(day)
                if day.special:
                    special.append(day)
            m.weeks.append(row)
        months.append(m)
    return YearOverview(year, status, entered, months, special)
