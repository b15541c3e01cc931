"""Deadlines in working days across a public holiday, the traffic lights, and escalation that
happens exactly once, however many workers sweep (docs/SECURITY-BAR.md §19).

2026 National Day: 1–7 October off (the 4th is a Sunday), Sunday 20 September and Saturday
10 October are make-up working days. An issue accepted on Tuesday 29 September at 12:00 with
5 working days is due at the end of Monday 12 October: 30 Sep, 8, 9, 10 (Saturday, worked),
12 Oct. Its working time is 12 h + 5 × 24 h = 132 h; 70 % (92.4 h) is gone on Saturday
10 October at 08:24.
"""

from __future__ import annotations

import datetime as dt

import pytest

from minqing.issues.jobs import sweep_deadlines
from minqing.issues.models import Issue, IssueEvent, LateRecord, Level, Status
from minqing.issues.services import issue_accept, issue_dispatch, issue_escalate
from minqing.issues.tests.conftest import TZ
from minqing.notifications.models import Notification
from minqing.workdays.services import calendar_day_set


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TZ)


@pytest.fixture
def accepted(clock, county, member, town, water, departments, register) -> Issue:
    clock.set(2026, 9, 29, 10, 0)
    issue = register()
    clock.set(2026, 9, 29, 11, 0)
    issue_dispatch(by=town, issue=issue, to_department=departments.water)
    clock.set(2026, 9, 29, 12, 0)
    return issue_accept(by=water, issue=issue)


def test_handling_deadline_skips_the_holiday_and_counts_the_make_up_saturday(accepted):
    assert accepted.final_due_at == at(2026, 10, 12, 23, 59, 59, 999999)
    assert accepted.due_at == accepted.final_due_at
    assert accepted.warn_at == at(2026, 10, 10, 8, 24)


def test_stage_deadlines_of_dispatch_and_accept_are_one_working_day(
    clock, county, town, departments, register
):
    clock.set(2026, 9, 30, 15, 0)  # Wednesday before the holiday
    issue = register()
    assert issue.due_at == at(2026, 10, 8, 23, 59, 59, 999999)  # dispatch by Thursday 8 Oct
    issue = issue_dispatch(by=town, issue=issue, to_department=departments.water)
    assert issue.due_at == at(2026, 10, 8, 23, 59, 59, 999999)  # accept likewise
    # Five working days: Thu 8, Fri 9, Sat 10 (make-up), Mon 12, Tue 13 October.
    assert issue.final_due_at == at(2026, 10, 13, 23, 59, 59, 999999)


def test_complex_issue_gets_a_month_moved_to_the_next_working_day(
    clock, county, register, irrigation
):
    clock.set(2026, 9, 4, 9, 0)  # 4 October is a Sunday inside the holiday
    issue = register(complexity="complex")
    assert issue.final_due_at == at(2026, 10, 8, 23, 59, 59, 999999)


def test_a_county_entered_day_off_moves_the_deadline(clock, county, county_user, register):
    calendar_day_set(by=county_user, date=dt.date(2026, 11, 26), is_workday=False, name="停工")
    clock.set(2026, 11, 23, 10, 0)  # Monday
    issue = register()
    # Tue 24, Wed 25, (Thu 26 off), Fri 27, Mon 30, Tue 1 Dec
    assert issue.final_due_at == at(2026, 12, 1, 23, 59, 59, 999999)


def test_lights_change_at_seventy_percent_and_when_overdue(clock, accepted, water):
    assert accepted.light(at(2026, 10, 5, 12, 0)) == "green"  # holiday time does not count
    assert accepted.light(at(2026, 10, 10, 8, 23, 59)) == "green"
    assert accepted.light(at(2026, 10, 10, 8, 24)) == "yellow"
    assert accepted.light(at(2026, 10, 12, 23, 59)) == "yellow"
    assert accepted.light(at(2026, 10, 13, 0, 0)) == "red"

    assert sweep_deadlines(now=at(2026, 10, 10, 8, 23))["warned"] == 0
    result = sweep_deadlines(now=at(2026, 10, 10, 8, 24))
    assert (result["warned"], result["escalated"]) == (1, 0)
    assert sweep_deadlines(now=at(2026, 10, 10, 9, 0))["warned"] == 0  # told once
    assert Notification.objects.filter(recipient=water, kind="issue.warning").count() == 1


def test_overdue_issue_escalates_one_level_once(clock, accepted, county, water, departments):
    now = at(2026, 10, 13, 0, 0, 1)
    clock.now = now
    first = sweep_deadlines(now=now)
    second = sweep_deadlines(now=now)
    assert (first["escalated"], second["escalated"]) == (1, 0)
    issue = Issue.objects.get(pk=accepted.pk)
    # Already with a department, so the county committee supervises next; it stays with them.
    assert (issue.level, issue.owner_department, issue.status) == (
        Level.COMMITTEE,
        departments.water,
        Status.ACCEPTED,
    )
    assert issue.escalations == 1
    # A fresh handling period from the escalation: 5 working days from Tuesday 13 October.
    assert issue.due_at == at(2026, 10, 20, 23, 59, 59, 999999)
    late = LateRecord.objects.get()
    assert (late.unit_department, late.level, late.due_at) == (
        departments.water,
        Level.TOWN,
        accepted.due_at,
    )
    event = IssueEvent.objects.get(issue=issue, action="escalate")
    assert event.actor is None and event.data["to_level"] == "committee"


def test_a_worker_holding_a_stale_row_does_not_escalate_again(clock, accepted):
    """Two workers read the same overdue row; the second claim finds it already moved on."""
    now = at(2026, 10, 13, 9, 0)
    clock.now = now
    seen_by_a = Issue.objects.get(pk=accepted.pk)
    seen_by_b = Issue.objects.get(pk=accepted.pk)
    assert issue_escalate(issue=seen_by_a, expected_due=seen_by_a.due_at, now=now) is not None
    assert issue_escalate(issue=seen_by_b, expected_due=seen_by_b.due_at, now=now) is None
    assert IssueEvent.objects.filter(action="escalate").count() == 1
    assert LateRecord.objects.count() == 1


def test_village_issue_climbs_the_ladder_one_rung_per_missed_deadline(
    clock, county, owner, town, departments, register
):
    clock.set(2026, 11, 2, 10, 0)
    issue = register(colour="blue")  # the village dispatches it
    assert (issue.level, issue.owner_node) == (Level.VILLAGE, county.village_a)
    sweep_deadlines(now=at(2026, 11, 4, 0, 0, 1))  # nobody dispatched it by the 3rd
    issue.refresh_from_db()
    assert (issue.level, issue.owner_node, issue.status) == (
        Level.TOWN,
        county.town_a,
        Status.DISPATCHED,
    )
    assert issue.due_at == at(2026, 11, 5, 23, 59, 59, 999999)  # one working day to accept
    sweep_deadlines(now=at(2026, 11, 6, 0, 0, 1))  # the town did not accept it either
    issue.refresh_from_db()
    assert (issue.level, issue.owner_department, issue.status) == (
        Level.DEPARTMENT,
        departments.water,  # irrigation → water bureau
        Status.DISPATCHED,
    )
    assert LateRecord.objects.filter(issue=issue).count() == 2


def test_a_sweep_killed_mid_escalation_loses_nothing_and_repeats_nothing(
    clock, accepted, monkeypatch
):
    """The claim and the escalation commit together: a crash in between rolls both back, so the
    next run claims the row again and escalates it exactly once."""
    from minqing.issues.services import escalation

    now = at(2026, 10, 13, 9, 0)
    real_record = escalation.record

    def crash(*args, **kwargs):
        raise SystemError("worker killed")

    monkeypatch.setattr(escalation, "record", crash)
    assert sweep_deadlines(now=now)["failed"] == 1
    issue = Issue.objects.get(pk=accepted.pk)
    assert (issue.escalations, issue.level, issue.due_at) == (0, Level.TOWN, accepted.due_at)
    assert not LateRecord.objects.exists() and not IssueEvent.objects.filter(action="escalate")

    monkeypatch.setattr(escalation, "record", real_record)
    assert sweep_deadlines(now=now)["escalated"] == 1
    assert sweep_deadlines(now=now)["escalated"] == 0
    assert IssueEvent.objects.filter(action="escalate").count() == 1
    assert LateRecord.objects.count() == 1


def test_a_warning_that_fails_holds_back_only_its_own_issue(
    clock, accepted, register, town, departments, water, monkeypatch
):
    """Warnings go a page per transaction; when one issue of the page cannot be warned, the
    page is retried one by one, so the others still get their single notice."""
    from minqing.issues.services import escalation

    clock.set(2026, 9, 29, 12, 0)
    second = issue_accept(
        by=water,
        issue=issue_dispatch(by=town, issue=register(), to_department=departments.water),
    )
    assert second.warn_at == accepted.warn_at
    real_notice = escalation.owner_notice

    def notice_but_not_for_the_first(issue, **kwargs):
        if issue.pk == accepted.pk:
            raise SystemError("cannot tell who holds it")
        return real_notice(issue, **kwargs)

    monkeypatch.setattr(escalation, "owner_notice", notice_but_not_for_the_first)
    now = at(2026, 10, 10, 9, 0)
    assert sweep_deadlines(now=now) == {
        "escalated": 0,
        "warned": 1,
        "claimed_elsewhere": 0,
        "failed": 1,
        "ms": pytest.approx(0, abs=60_000),
    }
    warned = dict(Issue.objects.values_list("pk", "warned"))
    assert warned == {accepted.pk: False, second.pk: True}
    assert Notification.objects.filter(kind="issue.warning").count() == 1

    monkeypatch.setattr(escalation, "owner_notice", real_notice)
    assert sweep_deadlines(now=now)["warned"] == 1  # the next sweep warns the first
    assert sweep_deadlines(now=now)["warned"] == 0
    assert Notification.objects.filter(recipient=water, kind="issue.warning").count() == 2


def test_a_deadline_in_a_year_nobody_entered_is_estimated_not_refused(
    client, clock, county, register, town, departments, water
):
    """2027's official holidays are not in the calendar yet. A complex issue registered on
    10 December 2026 is still registered: its month runs to Sunday 10 January 2027, moved to
    Monday the 11th by the estimate (weekends, statutory holidays), and the issue says so."""
    clock.set(2026, 12, 10, 9, 0)
    issue = register(complexity="complex")
    assert issue.final_due_at == at(2027, 1, 11, 23, 59, 59, 999999)
    assert issue.deadline_estimated
    assert issue.due_at == at(2026, 12, 11, 23, 59, 59, 999999)  # the dispatch stage: known
    client.force_login(town)
    page = client.get(f"/issues/{issue.pk}/").content.decode()
    assert "Estimated: the official holidays of that year are not entered yet" in page

    # The worker escalates an overdue one across the year end instead of failing on it.
    late = register(complexity="general")
    issue_dispatch(by=town, issue=late, to_department=departments.water)
    late = issue_accept(by=water, issue=Issue.objects.get(pk=late.pk))
    assert late.final_due_at == at(2026, 12, 17, 23, 59, 59, 999999)
    assert not late.deadline_estimated
    now = at(2026, 12, 28, 9, 0)
    clock.now = now
    result = sweep_deadlines(now=now)
    assert (result["failed"], result["escalated"]) == (0, 2)
    late.refresh_from_db()
    # Five working days from Monday 28 December: 29, 30, 31 December, (1 January off), 4, 5.
    assert late.due_at == at(2027, 1, 5, 23, 59, 59, 999999)
    assert late.deadline_estimated and late.escalations == 1


def test_a_deadline_counted_in_an_entered_year_is_not_estimated(
    clock, county, county_user, register
):
    from minqing.workdays.services import calendar_year_mark_entered

    calendar_year_mark_entered(by=county_user, year=2027)
    clock.set(2026, 12, 10, 9, 0)
    issue = register(complexity="complex")
    assert issue.final_due_at == at(2027, 1, 11, 23, 59, 59, 999999)
    assert not issue.deadline_estimated
