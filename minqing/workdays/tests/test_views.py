"""The calendar page: everyone reads it, only the county changes it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from minqing.audit.models import AuditEvent
from minqing.tests.dbstate import nothing_written
from minqing.workdays.models import CalendarDay, CalendarYear

URL = reverse("workdays:calendar")
D = dt.date


def _calendar_audit() -> int:
    return AuditEvent.objects.filter(action__startswith="calendar.").count()


def test_everyone_logged_in_may_read_the_year(client, owner):
    client.force_login(owner)
    page = client.get(URL, {"year": 2026})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Working-day calendar 2026" in html
    assert "Announced" in html
    assert "2026-10-10 Sat" in html and "2026-09-20 Sun" in html  # make-up days listed
    assert "2026-10-07 Wed" in html
    assert 'name="action" value="set_day"' not in html  # no form for a village cadre


def test_default_year_is_the_current_one(client, owner):
    client.force_login(owner)
    year = dt.date.today().year  # noqa: DTZ011 - the server's calendar year
    assert f"Working-day calendar {year}" in client.get(URL).content.decode()


def test_a_year_nobody_entered_says_its_deadlines_are_estimated(client, county_user, monkeypatch):
    from django.utils import translation

    from minqing.workdays import calendar

    # As on 2026-12-01: 2027 is not in the package, whatever version is installed.
    monkeypatch.setattr(calendar, "ANNOUNCED_YEARS", frozenset({2026}))
    client.force_login(county_user)
    html = client.get(URL, {"year": 2027}).content.decode()
    assert "Estimated" in html
    assert "deadlines that run into 2027 are estimated" in html
    assert "cannot be" not in html
    assert 'value="mark_year"' in html
    with translation.override("zh-hans"):
        chinese = client.get(URL, {"year": 2027}, headers={"accept-language": "zh-hans"})
    body = chinese.content.decode()
    assert "跨入2027年的办理时限按估算计算" in body
    assert "无法计算" not in body


@pytest.mark.parametrize("year", ["abc", "1900", "-1"])
def test_bad_year_is_not_found(client, owner, year):
    client.force_login(owner)
    assert client.get(URL, {"year": year}).status_code == 404


def test_anonymous_is_sent_to_login(client, db):
    page = client.get(URL)
    assert page.status_code == 302 and "login" in page["Location"]


@pytest.mark.parametrize(
    "data",
    [
        {"action": "set_day", "date": "2026-12-30", "is_workday": "0", "name": "x"},
        {"action": "clear_day", "date": "2026-10-07"},
        {"action": "mark_year", "year": "2027", "note": ""},
    ],
)
def test_village_cadre_may_not_change_it(client, owner, county_user, data):
    from minqing.workdays.services import calendar_day_set

    calendar_day_set(by=county_user, date=D(2026, 10, 7), is_workday=True)
    before = list(CalendarDay.objects.values_list("date", "is_workday", "name"))
    audits = _calendar_audit()
    client.force_login(owner)
    with nothing_written():
        page = client.post(URL, data)
    assert page.status_code == 403
    assert "command centre" in page.content.decode()
    assert list(CalendarDay.objects.values_list("date", "is_workday", "name")) == before
    assert not CalendarYear.objects.exists()
    assert _calendar_audit() == audits


def test_county_sets_and_clears_a_day(client, county_user):
    client.force_login(county_user)
    page = client.post(
        URL, {"action": "set_day", "date": "2026-12-30", "is_workday": "0", "name": "停电"}
    )
    assert page.status_code == 302 and page["Location"] == f"{URL}?year=2026"
    assert list(CalendarDay.objects.values_list("date", "is_workday", "name")) == [
        (D(2026, 12, 30), False, "停电")
    ]
    html = client.get(page["Location"]).content.decode()
    assert "2026-12-30 is now a day off." in html
    assert "停电" in html and 'value="clear_day"' in html
    page = client.post(URL, {"action": "clear_day", "date": "2026-12-30"})
    assert page.status_code == 302
    assert not CalendarDay.objects.exists()
    assert list(
        AuditEvent.objects.filter(action__startswith="calendar.").values_list("action", flat=True)
    ) == ["calendar.day_set", "calendar.day_clear"]


def test_county_marks_2027_entered(client, county_user):
    client.force_login(county_user)
    page = client.post(f"{URL}?year=2027", {"action": "mark_year", "year": "2027", "note": "n"})
    assert page.status_code == 302 and page["Location"] == f"{URL}?year=2027"
    assert CalendarYear.objects.get().year == 2027
    html = client.get(page["Location"]).content.decode()
    assert "Entered by the county" in html and "county_user" in html


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"action": "set_day", "date": "2026-02-30", "is_workday": "0"},
            "Nothing was changed: Date: Enter a valid date.",
        ),
        ({"action": "set_day", "date": "", "is_workday": "0"}, "Date: This field is required."),
        ({"action": "set_day", "date": "2026-12-30", "is_workday": "maybe"}, "This day is:"),
        (
            {"action": "set_day", "date": "1999-12-30", "is_workday": "0"},
            "The calendar covers the years 2000 to 2100.",
        ),
        ({"action": "clear_day", "date": "2026-12-31"}, "There is no county entry for 2026-12-31"),
        ({"action": "mark_year", "year": "20x7"}, "Nothing was changed"),
        ({"action": "explode"}, "Unknown action; nothing was changed."),
    ],
)
def test_bad_input_gives_a_message_and_changes_nothing(client, county_user, data, message):
    client.force_login(county_user)
    page = client.post(URL, data)
    assert page.status_code == 200
    assert message in page.content.decode()
    assert not CalendarDay.objects.exists() and not CalendarYear.objects.exists()
    assert _calendar_audit() == 0


def test_page_queries_do_not_grow_with_entries(client, county_user, django_assert_max_num_queries):
    from minqing.workdays.services import calendar_day_set

    client.force_login(county_user)
    client.get(URL, {"year": 2026})
    for day in range(1, 29):
        calendar_day_set(by=county_user, date=D(2026, 12, day), is_workday=day % 2 == 0)
    # 12, and the counties read once by can_edit_calendar (shared settings)
    with django_assert_max_num_queries(13):
        page = client.get(URL, {"year": 2026})
    assert page.content.decode().count('value="clear_day"') == 28
