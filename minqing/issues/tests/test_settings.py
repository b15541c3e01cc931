"""The county edits its categories (and their departments) and deadlines; nobody else can."""

from __future__ import annotations

from django.urls import reverse
from django.utils.timezone import localtime

from minqing.audit.models import AuditEvent
from minqing.issues.models import Category, DeadlineRule
from minqing.issues.selectors import satisfaction
from minqing.issues.services import (
    issue_accept,
    issue_close,
    issue_dispatch,
    issue_resolve,
    issue_revisit,
    issue_sample_revisit,
)


def test_command_centre_changes_a_deadline_and_new_issues_follow_it(
    client, county, county_user, register, clock
):
    rule = DeadlineRule.objects.get(colour="yellow", complexity="general")
    client.force_login(county_user)
    response = client.post(
        reverse("issues:settings"),
        {"what": "rule", "rule": rule.pk, "amount": "3", "unit": "workdays"},
    )
    assert response.status_code == 302
    issue = register()  # Monday 2026-11-23: 3 working days → Thursday 26th
    assert localtime(issue.final_due_at).isoformat() == "2026-11-26T23:59:59.999999+08:00"
    assert AuditEvent.objects.filter(action="issue.deadline_rule_save").count() == 1


def test_bad_deadline_is_refused_and_changes_nothing(client, county, county_user, writes):
    rule = DeadlineRule.objects.get(colour="blue", complexity="general")
    client.force_login(county_user)
    before = writes()
    response = client.post(
        reverse("issues:settings"),
        {"what": "rule", "rule": rule.pk, "amount": "-2", "unit": "workdays"},
    )
    assert response.status_code == 400
    rule.refresh_from_db()
    assert (rule.amount, rule.unit) == (5, "workdays") and writes() == before


def test_village_cadre_cannot_edit_settings(client, county, owner, writes):
    client.force_login(owner)
    rule = DeadlineRule.objects.get(colour="blue", complexity="general")
    before = writes()
    response = client.post(
        reverse("issues:settings"),
        {"what": "rule", "rule": rule.pk, "amount": "1", "unit": "workdays"},
    )
    assert response.status_code == 403
    rule.refresh_from_db()
    assert rule.amount == 5 and writes() == before
    assert client.get(reverse("issues:settings")).status_code == 403


def test_a_command_centre_of_one_county_cannot_change_what_every_county_shares(
    client, county, county_user, writes
):
    """Categories, deadline rules and the calendar are shared by every county of the
    installation today: the command centre of 谯城区 may change them only while it is the
    only county, and a system admin may always."""
    import datetime as dt

    import pytest

    from minqing.accounts.models import Role
    from minqing.conftest import make_user
    from minqing.lib.errors import PermissionDenied
    from minqing.org.models import Level
    from minqing.org.services import node_create
    from minqing.workdays.models import CalendarDay
    from minqing.workdays.services import calendar_day_set, can_edit_calendar

    rule = DeadlineRule.objects.get(colour="blue", complexity="general")
    client.force_login(county_user)
    assert client.get(reverse("issues:settings")).status_code == 200
    assert can_edit_calendar(county_user)

    node_create(name="涡阳县", level=Level.COUNTY, code="341621")
    county_user = type(county_user).objects.get(pk=county_user.pk)  # a new request's user
    before = writes()
    response = client.post(
        reverse("issues:settings"),
        {"what": "rule", "rule": rule.pk, "amount": "1", "unit": "workdays"},
    )
    assert response.status_code == 403
    rule.refresh_from_db()
    assert rule.amount == 5 and writes() == before
    assert not can_edit_calendar(county_user)
    with pytest.raises(PermissionDenied):
        calendar_day_set(by=county_user, date=dt.date(2027, 10, 8), is_workday=False, name="x")
    assert not CalendarDay.objects.filter(date=dt.date(2027, 10, 8)).exists()

    admin = make_user("sysadmin", Role.SYSTEM_ADMIN)
    assert can_edit_calendar(admin)


def test_command_centre_adds_a_category_and_reroutes_one(client, county, county_user):
    client.force_login(county_user)
    added = client.post(
        reverse("issues:settings"),
        {
            "new-code": "pension",
            "new-name": "养老保险",
            "new-name_en": "Pensions",
            "new-kind": "both",
            "new-department_code": "social",
            "new-active": "on",
            "new-sort_key": "5",
        },
    )
    assert added.status_code == 302
    assert Category.objects.get(code="pension").department_code == "social"
    road = Category.objects.get(code="road")
    client.post(
        reverse("issues:settings"),
        {
            "category": road.pk,
            f"c{road.pk}-name": "道路交通",
            f"c{road.pk}-name_en": "Roads",
            f"c{road.pk}-kind": "both",
            f"c{road.pk}-department_code": "urban",
            f"c{road.pk}-sort_key": "0",
        },
    )
    road.refresh_from_db()
    assert (road.department_code, road.active) == ("urban", False)


def test_satisfaction_rate_counts_revisits_and_sampled_revisits(
    county, county_user, town, water, departments, register, clock
):
    issue = register()
    issue_dispatch(by=town, issue=issue, to_department=departments.water)
    issue_accept(by=water, issue=issue)
    issue_resolve(by=water, issue=issue, resolution="修好", replies={})
    issue_revisit(by=town, issue=issue, mode="phone", result="unsatisfied", words="没修好")
    issue_resolve(by=water, issue=issue, resolution="再修", replies={})
    issue_revisit(by=town, issue=issue, mode="home", result="basic")
    issue_close(by=town, issue=issue)
    issue_sample_revisit(by=county_user, issue=issue, mode="phone", result="satisfied")
    rate = satisfaction(county_user)
    assert (rate.revisits, rate.satisfied, rate.sampled, rate.sampled_satisfied) == (3, 2, 1, 1)
    assert (rate.rate, rate.sampled_rate) == (66.7, 100.0)
