"""When a visit may be dated: the phone's time with its UTC offset (a phone in another zone or
a clock a few minutes fast is not refused), late entries within the county's look-back (also
before the household was entered), and the look-back on the quota rules page."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from minqing.accounts.models import Role
from minqing.accounts.services import api_token_issue
from minqing.audit.models import AuditEvent
from minqing.conftest import make_user
from minqing.lib.errors import PermissionDenied
from minqing.visits.models import DEFAULT_LOOKBACK_DAYS, Visit, VisitSettings
from minqing.visits.services import VisitInput, cadence, quotas, visit_record

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
#: The server's clock in these tests: noon in the county.
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=SHANGHAI)


@pytest.fixture
def leader(county):
    return make_user("leader", Role.GROUP_LEADER, county.grid_a1)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


def _input(household, when, **kw):
    return VisitInput(
        client_uuid=uuid.uuid4(),
        household_id=household.pk,
        mode="home",
        visited_at=when,
        notes="补录纸质日记",
        **kw,
    )


def _refusal(leader, household, when) -> dict:
    with pytest.raises(ValidationError) as info:
        visit_record(by=leader, data=_input(household, when))
    return info.value.message_dict


# --------------------------------------------------------------------------- the look-back


def test_the_default_look_back_is_ninety_days_and_written_once(county):
    first = cadence.settings_for(county.county)
    again = cadence.settings_for(county.county)
    assert (first.pk, first.lookback_days) == (again.pk, DEFAULT_LOOKBACK_DAYS) == (first.pk, 90)
    assert VisitSettings.objects.count() == 1


@pytest.mark.parametrize(
    "when",
    [
        dt.datetime(2026, 9, 2, 0, 5, tzinfo=SHANGHAI),  # the first day of the 90
        dt.datetime(2026, 10, 15, 9, 0, tzinfo=SHANGHAI),
        NOW - dt.timedelta(hours=3),
    ],
)
def test_a_visit_before_the_household_was_entered_is_accepted_within_the_look_back(
    county, leader, clock, when
):
    household = county.household_a1
    assert household.created_at.date() > when.date() or when > NOW - dt.timedelta(days=1)
    recorded = visit_record(by=leader, data=_input(household, when))
    assert recorded.created
    assert Visit.objects.get().visited_at == when


def test_a_visit_older_than_the_look_back_is_refused_with_the_date_and_the_days(
    county, leader, clock
):
    too_old = dt.datetime(2026, 9, 1, 23, 55, tzinfo=SHANGHAI)
    assert _refusal(leader, county.household_a1, too_old) == {
        "visited_at": [
            "This visit is dated before 2026-09-02: the county accepts visits up to 90 days back."
        ]
    }
    with translation.override("zh-hans"):
        assert _refusal(leader, county.household_a1, too_old) == {
            "visited_at": ["这次走访的日期早于2026-09-02：本县只接受90天内的补录。"]
        }
    assert not Visit.objects.exists()


def test_the_look_back_is_the_countys_own(county, leader, clock, county_user):
    assert quotas.lookback_save(by=county_user, county=county.county, days=30) is True
    assert quotas.lookback_save(by=county_user, county=county.county, days=30) is False
    forty_days = NOW - dt.timedelta(days=40)
    assert _refusal(leader, county.household_a1, forty_days) == {
        "visited_at": [
            "This visit is dated before 2026-11-01: the county accepts visits up to 30 days back."
        ]
    }
    # The first of the thirty days passes.
    assert visit_record(
        by=leader,
        data=_input(county.household_a1, dt.datetime(2026, 11, 1, 8, 0, tzinfo=SHANGHAI)),
    ).created
    audit = AuditEvent.objects.filter(action="visits.lookback_save")
    assert [e.detail for e in audit] == [{"lookback_days": [90, 30]}]


def test_only_the_command_centre_sets_the_look_back_and_only_a_sensible_number(
    county, county_user, owner
):
    with pytest.raises(PermissionDenied):
        quotas.lookback_save(by=owner, county=county.county, days=10)
    for bad in (0, 367, "abc", -5):
        with pytest.raises(ValidationError) as info:
            quotas.lookback_save(by=county_user, county=county.county, days=bad)
        assert info.value.message_dict == {
            "lookback_days": ["Give a number of days from 1 to 366."]
        }
    assert cadence.settings_for(county.county).lookback_days == 90
    assert not AuditEvent.objects.filter(action="visits.lookback_save").exists()


# --------------------------------------------------------------------------- the phone's time


@pytest.mark.parametrize(
    ("sent", "instant"),
    [
        # Five minutes fast, in the county's zone.
        ("2026-12-01T12:05:00+08:00", dt.datetime(2026, 12, 1, 4, 5, tzinfo=dt.UTC)),
        # A phone set to California: 20:05 the day before there is 12:05 here.
        ("2026-11-30T20:05:00-08:00", dt.datetime(2026, 12, 1, 4, 5, tzinfo=dt.UTC)),
        # A phone set to Tokyo and nine minutes fast.
        ("2026-12-01T13:09:00+09:00", dt.datetime(2026, 12, 1, 4, 9, tzinfo=dt.UTC)),
        # UTC, as older phones of the outbox sent it.
        ("2026-12-01T03:58:10Z", dt.datetime(2026, 12, 1, 3, 58, 10, tzinfo=dt.UTC)),
    ],
)
def test_the_phones_time_with_its_offset_is_the_same_instant_and_not_refused(
    client, county, leader, clock, sent, instant
):
    headers = {"Authorization": f"Bearer {api_token_issue(user=leader)[1]}"}
    answer = _post(client, headers, county.household_a1, visited_at=sent)
    assert answer.status_code == 201, answer.json()
    assert Visit.objects.get().visited_at == instant


@pytest.mark.parametrize(
    "sent",
    [
        "2026-12-01T12:11:00+08:00",  # eleven minutes ahead of the server
        "2026-12-01T13:11:00+09:00",  # the same instant from Tokyo
        "2026-11-30T23:11:00-05:00",  # and from New York
    ],
)
def test_more_than_ten_minutes_ahead_of_the_server_is_refused_whatever_the_offset(
    client, county, leader, clock, sent
):
    headers = {"Authorization": f"Bearer {api_token_issue(user=leader)[1]}"}
    answer = _post(client, headers, county.household_a1, visited_at=sent)
    assert answer.status_code == 400
    assert answer.json()["errors"] == {
        "visited_at": ["A visit cannot be in the future (it is 2026-12-01 12:00 now)."]
    }
    answer = _post(
        client, headers | {"Accept-Language": "zh-hans"}, county.household_a1, visited_at=sent
    )
    assert answer.json()["errors"] == {
        "visited_at": ["走访时间不能在将来（现在是2026-12-01 12:00）。"]
    }
    assert not Visit.objects.exists()


def test_a_time_without_its_offset_is_refused(client, county, leader, clock):
    headers = {"Authorization": f"Bearer {api_token_issue(user=leader)[1]}"}
    answer = _post(client, headers, county.household_a1, visited_at="2026-12-01T11:00:00")
    assert answer.status_code == 400
    assert answer.json()["errors"] == {"visited_at": ["Give the time with its time zone."]}
    assert answer.json()["codes"] == {"visited_at": ["visits.no_time_zone"]}
    assert not Visit.objects.exists()


def test_the_same_instant_sent_with_another_offset_is_a_replay_not_a_conflict(
    client, county, leader, clock
):
    headers = {"Authorization": f"Bearer {api_token_issue(user=leader)[1]}"}
    record = str(uuid.uuid4())
    first = _post(
        client,
        headers,
        county.household_a1,
        client_uuid=record,
        visited_at="2026-12-01T11:30:00+08:00",
    )
    again = _post(
        client,
        headers,
        county.household_a1,
        client_uuid=record,
        visited_at="2026-12-01T03:30:00+00:00",
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["replay"] is True and Visit.objects.count() == 1


def _post(client, headers, household, **kw):
    body = {
        "client_uuid": str(uuid.uuid4()),
        "household": household.pk,
        "mode": "home",
        "notes": "走访",
    } | kw
    return client.post("/api/v1/visits/", body, content_type="application/json", headers=headers)


# --------------------------------------------------------------------------- the page


def _url(county):
    return reverse("visits:quotas", args=[county.county.pk])


def test_the_command_centre_sets_the_look_back_on_the_quota_rules_page(client, county, county_user):
    client.force_login(county_user)
    page = client.get(_url(county)).content.decode()
    assert 'name="lookback_days"' in page and 'value="90"' in page

    saved = client.post(_url(county), {"form": "lookback", "lookback_days": "120"}, follow=True)
    assert "Visits may now be recorded up to 120 days back." in saved.content.decode()
    assert cadence.settings_for(county.county).lookback_days == 120

    bad = client.post(_url(county), {"form": "lookback", "lookback_days": "400"})
    html = bad.content.decode()
    assert bad.status_code == 400
    assert "Give a number of days from 1 to 366." in html and 'value="400"' in html
    assert cadence.settings_for(county.county).lookback_days == 120


def test_others_read_the_look_back_and_cannot_change_it(client, county, owner):
    client.force_login(owner)
    from_village = reverse("visits:quotas", args=[county.village_a.pk])
    page = client.get(from_village).content.decode()
    assert "Visits may be recorded up to 90 days back." in page
    assert 'name="lookback_days"' not in page
    refused = client.post(from_village, {"form": "lookback", "lookback_days": "10"})
    assert refused.status_code == 403
    assert cadence.settings_for(county.county).lookback_days == 90
