"""Deadlines (时限) and traffic lights (红黄绿灯) of an issue, in working days.

Each stage has a due time:
- waiting for dispatch, waiting to be accepted: ``STAGE_WORKDAYS`` working day(s), never past
  the handling deadline;
- being handled: the handling deadline, from the colour × complexity ``DeadlineRule``
  (general: 5 working days, complex: 1 month) counted from registration, and again from the
  moment of an escalation or a reopening.

The light turns yellow when 70 % of the stage's working time is gone and red when it is overdue.
Working time is the part of the stage that falls on working days of China's official calendar
(make-up working days included; ``minqing.workdays``), so a stage across the National Day
holiday turns yellow later than one across an ordinary week.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

from minqing.issues.models import DeadlineRule
from minqing.lib.memo import cached
from minqing.workdays.selectors import WorkCalendar, work_calendar

#: Working days to dispatch a registered issue, and to accept a dispatched one.
STAGE_WORKDAYS = 1
#: Fraction of the stage's working time after which the light turns yellow.
WARN_FRACTION = 0.7

T = TypeVar("T")

_FALLBACK_RULES = {"general": (5, "workdays"), "complex": (1, "months")}


def handling_due(
    colour: str, complexity: str, start: dt.datetime, cal: WorkCalendar | None = None
) -> dt.datetime:
    """The handling deadline of an issue of this colour and complexity started at ``start``."""
    rule = cached(
        ("deadline_rule", colour, complexity),
        lambda: DeadlineRule.objects.filter(colour=colour, complexity=complexity).first(),
    )
    amount, unit = (rule.amount, rule.unit) if rule else _FALLBACK_RULES[complexity]
    cal = cal or work_calendar()
    if unit == "months":
        return cal.add_months(start, amount)
    return cal.add_workdays(start, amount)


def stage_due(
    start: dt.datetime, final_due: dt.datetime | None, cal: WorkCalendar | None = None
) -> dt.datetime:
    """Due time of a dispatch or accept stage: one working day, capped by the final deadline."""
    due = (cal or work_calendar()).add_workdays(start, STAGE_WORKDAYS)
    return min(due, final_due) if final_due is not None else due


def warn_time(start: dt.datetime, due: dt.datetime, cal: WorkCalendar | None = None) -> dt.datetime:
    """The instant at which 70 % of the stage's working time is gone (the yellow light)."""
    if due <= start:
        return start
    return (cal or work_calendar()).instant_at_fraction(start, due, WARN_FRACTION)


def _estimating(compute: Callable[[WorkCalendar], T]) -> tuple[T, bool]:
    """``compute(calendar)`` with any year nobody has entered estimated (an issue must get a
    deadline: a refusal would stop the registration of a resident's problem, or the escalation
    of an overdue one). Returns (result, estimated)."""
    result, cal = cached("work_calendar", work_calendar).estimating(compute)
    return result, bool(cal.estimated_years)


def schedule(issue, *, start: dt.datetime, stage: str, new_final: bool = False) -> list[str]:
    """Set the stage clock on ``issue`` (not saved); return the fields changed.

    ``stage`` is "dispatch", "accept" or "handle"; ``new_final`` restarts the handling deadline
    from ``start`` (registration, escalation, reopening). A deadline in a year whose official
    holidays nobody has entered yet is estimated, and ``issue.deadline_estimated`` says so.
    """
    keep_final = not new_final and issue.final_due_at is not None

    def compute(cal: WorkCalendar) -> tuple[dt.datetime, dt.datetime, dt.datetime]:
        final = (
            issue.final_due_at
            if keep_final
            else handling_due(issue.colour, issue.complexity, start, cal)
        )
        due = final if stage == "handle" else stage_due(start, final, cal)
        return final, due, warn_time(start, due, cal)

    (final, due, warn), estimated = _estimating(compute)
    issue.deadline_estimated = estimated or (keep_final and issue.deadline_estimated)
    issue.final_due_at = final
    issue.stage_started_at = start
    issue.due_at = due
    issue.warn_at = warn
    issue.warned = False
    return [
        "final_due_at",
        "stage_started_at",
        "due_at",
        "warn_at",
        "warned",
        "deadline_estimated",
    ]


def extend(issue, *, workdays: int, now: dt.datetime, stage: str) -> list[str]:
    """延期 — move the handling deadline ``workdays`` working days on (and the stage's, when the
    issue is being handled); return the fields changed."""

    def compute(cal: WorkCalendar) -> tuple[dt.datetime, dt.datetime | None]:
        final = cal.add_workdays(issue.final_due_at or now, workdays)
        if stage != "handle":
            return final, None
        return final, warn_time(issue.stage_started_at or now, final, cal)

    (final, warn), estimated = _estimating(compute)
    issue.final_due_at = final
    issue.deadline_estimated = estimated or issue.deadline_estimated
    if warn is None:
        return ["final_due_at", "deadline_estimated"]
    issue.due_at, issue.warn_at, issue.warned = final, warn, False
    return ["final_due_at", "due_at", "warn_at", "warned", "deadline_estimated"]
