"""The closed loop end to end, as one scripted story: a visitor registers a yellow issue, the
town dispatches it to a department, the department accepts and resolves it, the revisit is
不满意 and it reopens, then 满意 and it closes — the timeline shows every step with who and when.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.timezone import localtime

from minqing.audit.models import AuditEvent
from minqing.issues.models import IssueEvent, Level, Revisit, Status
from minqing.issues.services import (
    IllegalTransition,
    issue_accept,
    issue_close,
    issue_dispatch,
    issue_resolve,
    issue_revisit,
)
from minqing.lib.errors import PermissionDenied, StaleEdit
from minqing.notifications.models import Notification


def test_yellow_issue_story_from_visit_to_satisfied_close(
    clock, county, member, town, water, departments, register, writes
):
    issue = register(household=county.household_a1, reporter_words="水渠漏了一个星期")
    assert (issue.status, issue.level, issue.owner_node) == (
        Status.REGISTERED,
        Level.TOWN,
        county.town_a,
    )
    assert issue.village == county.village_a and issue.town == county.town_a
    assert [r.name for r in issue.reporters.all()] == ["王建国"]
    assert Notification.objects.filter(recipient=town, kind="issue.registered").count() == 1

    clock.advance(hours=1)
    issue = issue_dispatch(by=town, issue=issue, to_department=departments.water)
    assert (issue.status, issue.owner_department, issue.owner_node) == (
        Status.DISPATCHED,
        departments.water,
        None,
    )
    assert Notification.objects.filter(recipient=water, kind="issue.dispatched").count() == 1

    clock.advance(hours=1)
    issue = issue_accept(by=water, issue=issue)
    assert issue.responsible == water
    reporter = issue.reporters.get()

    clock.advance(days=1)
    issue = issue_resolve(
        by=water,
        issue=issue,
        resolution="更换了破损的渠段",
        replies={reporter.pk: "渠段已更换，请放水试一下"},
    )
    assert issue.status == Status.RESOLVED

    clock.advance(hours=3)
    issue_revisit(by=town, issue=issue, mode="phone", result="unsatisfied", words="还是漏水")
    issue.refresh_from_db()
    assert (issue.status, issue.owner_department) == (Status.REOPENED, departments.water)
    assert Notification.objects.filter(recipient=water, kind="issue.reopened").count() == 1

    clock.advance(days=1)
    before = writes()
    with pytest.raises(ValidationError, match="Reply to every reporter"):
        issue_resolve(by=water, issue=issue, resolution="重新做了防渗")
    assert writes() == before
    issue = issue_resolve(
        by=water, issue=issue, resolution="重新做了防渗", replies={reporter.pk: "已做防渗处理"}
    )
    clock.advance(hours=2)
    issue_revisit(by=town, issue=issue, mode="home", result="satisfied")
    issue.refresh_from_db()
    assert issue.status == Status.REVISITED
    clock.advance(minutes=5)
    issue = issue_close(by=town, issue=issue)
    assert issue.status == Status.CLOSED and issue.closed_at == clock.now

    steps = [
        (e.action, e.actor.username, e.from_status, e.to_status, localtime(e.at).isoformat())
        for e in IssueEvent.objects.filter(issue=issue).order_by("at", "id")
    ]
    assert steps == [
        ("register", "member", "", "registered", "2026-11-23T10:00:00+08:00"),
        ("dispatch", "town", "registered", "dispatched", "2026-11-23T11:00:00+08:00"),
        ("accept", "water", "dispatched", "accepted", "2026-11-23T12:00:00+08:00"),
        ("resolve", "water", "accepted", "resolved", "2026-11-24T12:00:00+08:00"),
        ("reopen", "town", "resolved", "reopened", "2026-11-24T15:00:00+08:00"),
        ("resolve", "water", "reopened", "resolved", "2026-11-25T15:00:00+08:00"),
        ("revisit", "town", "resolved", "revisited", "2026-11-25T17:00:00+08:00"),
        ("close", "town", "revisited", "closed", "2026-11-25T17:05:00+08:00"),
    ]
    assert list(Revisit.objects.values_list("result", flat=True)) == ["unsatisfied", "satisfied"]
    reporter.refresh_from_db()
    assert reporter.reply == "已做防渗处理"
    audited = list(
        AuditEvent.objects.filter(object_type="issues.issue", object_id=str(issue.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert audited == [f"issue.{s[0]}" for s in steps]


def test_timeline_page_shows_every_step_with_who_and_when(
    client, clock, county, member, town, water, departments, register
):
    issue = register()
    issue_dispatch(by=town, issue=issue, to_department=departments.water)
    client.force_login(town)
    page = client.get(reverse("issues:detail", kwargs={"pk": issue.pk})).content.decode()
    assert "member" in page and "town" in page
    assert "2026-11-23 10:00" in page and "区水利局" in page


def test_illegal_transitions_are_refused_and_change_nothing(
    clock, county, member, town, water, departments, register
):
    issue = register()
    before = (IssueEvent.objects.count(), AuditEvent.objects.count())
    with pytest.raises(IllegalTransition, match="Registered; it cannot be accepted now"):
        issue_accept(by=water, issue=issue)
    with pytest.raises(IllegalTransition, match="cannot be revisited"):
        issue_revisit(by=town, issue=issue, mode="phone", result="satisfied")
    with pytest.raises(IllegalTransition):
        issue_close(by=town, issue=issue)
    issue.refresh_from_db()
    assert issue.status == Status.REGISTERED and issue.version == 1
    assert (IssueEvent.objects.count(), AuditEvent.objects.count()) == before


def test_people_without_the_right_are_refused_and_nothing_changes(
    clock, county, member, owner, town, water, departments, register, writes
):
    issue = register()
    before = writes()
    # The village cadre cannot dispatch a yellow (town) issue; the grid worker neither.
    for person in (owner, member, water):
        with pytest.raises(PermissionDenied):
            issue_dispatch(by=person, issue=issue, to_department=departments.water)
    assert writes() == before
    issue = issue_dispatch(by=town, issue=issue, to_department=departments.water)
    before = writes()
    with pytest.raises(PermissionDenied):
        issue_accept(by=town, issue=issue)  # the town is not the water bureau
    assert writes() == before
    issue.refresh_from_db()
    assert issue.status == Status.DISPATCHED and issue.responsible is None


def test_stale_edit_is_refused(clock, county, town, departments, register, writes):
    issue = register()
    issue_dispatch(by=town, issue=issue, to_department=departments.water, version=1)
    before = writes()
    with pytest.raises(StaleEdit):
        issue_dispatch(by=town, issue=issue, to_department=departments.power, version=1)
    assert writes() == before
    issue.refresh_from_db()
    assert issue.owner_department == departments.water


def test_revisit_of_an_unresolved_issue_is_refused(clock, county, town, register, writes):
    issue = register()
    before = writes()
    with pytest.raises(IllegalTransition):
        issue_revisit(by=town, issue=issue, mode="phone", result="satisfied")
    assert not Revisit.objects.exists() and writes() == before


def test_closing_without_a_satisfied_revisit_needs_a_recorded_override(
    clock, county, owner, town, water, departments, register, writes
):
    issue = register()
    issue_dispatch(by=town, issue=issue, to_department=departments.water)
    issue_accept(by=water, issue=issue)
    issue = issue_resolve(by=water, issue=issue, resolution="已修好", replies={})
    before = writes()
    with pytest.raises(IllegalTransition, match="revisit first"):
        issue_close(by=town, issue=issue)
    assert writes() == before
    issue = issue_close(by=town, issue=issue, override_reason="住户已搬走，无法回访")
    assert issue.status == Status.CLOSED
    event = issue.events.get(action="close")
    assert event.data == {"override": True} and event.note == "住户已搬走，无法回访"
