"""``calendar_show``, ``calendar_set`` and ``calendar_year_entered``."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from minqing.audit.models import AuditEvent
from minqing.workdays.models import CalendarDay, CalendarYear


def _run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_calendar_show_lists_days_off_and_make_up_days(db):
    out = _run("calendar_show", "2026", "--language", "en")
    assert out.startswith("2026: announced")
    assert "  2026-10-07 Wed  Day off (substituted from 10/10/2026)  [official]\n" in out
    assert "  2026-10-01 Thu  National Day  [official]\n" in out
    work = out.split("Make-up working days")[1]
    assert [line.split()[0] for line in work.splitlines()[1:]] == [
        "2026-01-04",
        "2026-02-14",
        "2026-02-28",
        "2026-05-09",
        "2026-09-20",
        "2026-10-10",
    ]
    assert "国庆节" in _run("calendar_show", "2026")


def test_calendar_show_unknown_year(db):
    assert _run("calendar_show", "2027").startswith("2027: UNKNOWN")


def test_calendar_set_acts_as_the_user(county_user):
    out = _run("calendar_set", "2026-12-31", "off", "--name", "县里停电", "--user", "county_user")
    assert "2026-12-31: now a day off." in out
    day = CalendarDay.objects.get()
    assert (day.date, day.is_workday, day.name, day.updated_by) == (
        dt.date(2026, 12, 31),
        False,
        "县里停电",
        county_user,
    )
    assert "2026-12-31 Thu  县里停电  [county]" in _run("calendar_show", "2026")
    _run("calendar_set", "2026-12-31", "clear", "--user", "county_user")
    assert not CalendarDay.objects.exists()
    _run("calendar_year_entered", "2027", "--user", "county_user", "--note", "通知")
    assert "2027: entered by the county — entered by county_user" in _run("calendar_show", "2027")
    assert AuditEvent.objects.filter(action__startswith="calendar.").count() == 3


@pytest.mark.parametrize(
    "args",
    [
        ("calendar_set", "2026-12-31", "off", "--user", "owner"),
        ("calendar_set", "2026-13-01", "off", "--user", "county_user"),
        ("calendar_set", "2026-12-31", "off", "--user", "nobody"),
        ("calendar_year_entered", "2027", "--user", "owner"),
        ("calendar_year_entered", "1800", "--user", "county_user"),
    ],
)
def test_refused_commands_change_nothing(owner, county_user, args):
    with pytest.raises(CommandError):
        _run(*args)
    assert not CalendarDay.objects.exists() and not CalendarYear.objects.exists()
