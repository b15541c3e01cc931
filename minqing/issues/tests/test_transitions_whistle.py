"""吹哨报到 — the town calls county departments onto a joint (yellow/orange) issue and each
reports in: the calls and check-ins written, the events and audit rows, who is told, and every
refusal (wrong person, a blue or closed issue, a department of another county, a second report)
writing nothing."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from minqing.accounts.models import Role
from minqing.audit.actions import AuditAction
from minqing.conftest import make_user
from minqing.issues.errors import IssueErrorCode
from minqing.issues.models import CheckIn, Colour, Issue, Status
from minqing.issues.services import (
    IllegalTransition,
    issue_accept,
    issue_call_departments,
    issue_check_in,
    issue_close,
    issue_dispatch,
    issue_resolve,
)
from minqing.issues.tests.test_transitions_extensions import (
    act,
    at,
    audit_row,
    event_row,
    frozen,  # noqa: F401 - the fixture
    last_audit,
    last_event,
    refused,
    written,
)
from minqing.notifications.models import Notification
from minqing.org.models import Department
from minqing.org.models import Level as NodeLevel
from minqing.org.services import node_create


@pytest.fixture
def housing(county):
    return Department.objects.create(county=county.county, name="区住建局", code="housing")


@pytest.fixture
def power(departments):
    return make_user("power", Role.DEPARTMENT, department=departments.power)


@pytest.fixture
def builder(housing):
    return make_user("builder_staff", Role.DEPARTMENT, department=housing)


@pytest.fixture
def joint(frozen, town, departments, register) -> Issue:  # noqa: F811
    """Yellow, sent to the water bureau on Monday 21 September 2026 at 10:00."""
    issue = issue_dispatch(by=town, issue=register(), to_department=departments.water)
    frozen.move_to(at(2026, 9, 21, 14, 0))
    return Issue.objects.get(pk=issue.pk)


@pytest.fixture
def called(frozen, joint, town, departments, housing) -> Issue:  # noqa: F811
    issue_call_departments(by=town, issue=joint, departments=[departments.power, housing])
    frozen.move_to(at(2026, 9, 22, 9, 30))
    return Issue.objects.get(pk=joint.pk)


# --------------------------------------------------------------------------- 吹哨


def test_the_town_calls_departments_onto_a_yellow_issue(
    joint, town, power, builder, departments, housing
):
    calls = issue_call_departments(by=town, issue=joint, departments=[departments.power, housing])
    assert [(c.department, c.called_by, c.called_at, c.by, c.at) for c in calls] == [
        (departments.power, town, at(2026, 9, 21, 14, 0), None, None),
        (housing, town, at(2026, 9, 21, 14, 0), None, None),
    ]
    issue = Issue.objects.get(pk=joint.pk)
    # The issue stays where it is, with the same deadlines.
    assert (issue.status, issue.owner_department, issue.version) == (
        Status.DISPATCHED,
        departments.water,
        joint.version + 1,
    )
    assert (issue.due_at, issue.final_due_at) == (joint.due_at, joint.final_due_at)
    event = last_event(issue)
    assert event_row(event) == ("call_departments", Status.DISPATCHED, Status.DISPATCHED, town)
    assert event.data == {"departments": ["供电公司", "区住建局"]}
    assert audit_row(last_audit(issue)) == (
        AuditAction.ISSUE_CALL_DEPARTMENTS,
        town.pk,
        "town",
        {"from": "dispatched", "to": "dispatched", "departments": ["供电公司", "区住建局"]},
    )
    for person in (power, builder):
        assert Notification.objects.filter(recipient=person, kind="issue.called").count() == 1
        # A called department sees the issue from now on.
        assert Issue.objects.visible_to(person).filter(pk=issue.pk).exists()


def test_calling_a_department_again_writes_nothing(called, town, departments):
    before = written(called)
    assert issue_call_departments(by=town, issue=called, departments=[departments.power]) == []
    assert written(called) == before


def test_a_call_with_a_new_department_records_only_that_one(called, town, departments):
    calls = issue_call_departments(
        by=town, issue=called, departments=[departments.power, departments.water]
    )
    assert [c.department for c in calls] == [departments.water]
    assert last_event(called).data == {"departments": ["区水利局"]}


def test_a_department_of_another_county_or_none_at_all_is_refused(joint, town, departments):
    other = node_create(name="涡阳县", level=NodeLevel.COUNTY, code="341621")
    foreign = Department.objects.create(county=other, name="涡阳县供电公司", code="power")
    error = refused(
        # The first department is fine: the refusal of the second takes back its call too.
        lambda: issue_call_departments(
            by=town, issue=joint, departments=[departments.power, foreign]
        ),
        joint,
        ValidationError,
    )
    assert "departments" in error.message_dict
    refused(
        lambda: issue_call_departments(by=town, issue=joint, departments=[]), joint, ValidationError
    )


@pytest.mark.parametrize("person", ["water", "owner", "member", "outsider"])
def test_only_the_supervisor_calls_departments(joint, person, request, departments):
    user = request.getfixturevalue(person)
    refused(
        lambda: issue_call_departments(by=user, issue=joint, departments=[departments.power]),
        joint,
    )


def test_blue_and_closed_issues_call_no_departments(
    frozen,  # noqa: F811
    town,
    water,
    departments,
    register,
):
    blue = register(colour=Colour.BLUE)
    error = refused(
        lambda: issue_call_departments(by=town, issue=blue, departments=[departments.power]),
        blue,
        IllegalTransition,
    )
    assert "yellow and orange" in str(error) and error.code == IssueErrorCode.NOT_NOW
    issue = issue_accept(
        by=water, issue=issue_dispatch(by=town, issue=register(), to_department=departments.water)
    )
    issue = issue_resolve(by=water, issue=issue, resolution="修好了", replies={})
    issue = issue_close(by=town, issue=issue, override_reason="住户搬走")
    refused(
        lambda: issue_call_departments(by=town, issue=issue, departments=[departments.power]),
        issue,
        IllegalTransition,
    )


# --------------------------------------------------------------------------- 报到


def test_a_called_department_reports_in(called, power, departments):
    call = issue_check_in(by=power, issue=called, note="  下午到现场 ")
    assert (call.department, call.by, call.at, call.note) == (
        departments.power,
        power,
        at(2026, 9, 22, 9, 30),
        "下午到现场",
    )
    issue = Issue.objects.get(pk=called.pk)
    assert (issue.status, issue.version) == (Status.DISPATCHED, called.version + 1)
    event = last_event(issue)
    assert event_row(event) == ("check_in", Status.DISPATCHED, Status.DISPATCHED, power)
    assert (event.note, event.data) == ("下午到现场", {"department": "供电公司"})
    assert audit_row(last_audit(issue)) == (
        AuditAction.ISSUE_CHECK_IN,
        power.pk,
        "power",
        {"from": "dispatched", "to": "dispatched", "department": "供电公司"},
    )
    # The other called department has still to report in.
    assert CheckIn.objects.filter(issue=issue, at__isnull=True).count() == 1


def test_a_department_reports_in_once(called, power):
    issue = issue_check_in(by=power, issue=called).issue
    refused(lambda: issue_check_in(by=power, issue=issue), issue)


@pytest.mark.parametrize("person", ["water", "town", "owner", "member", "outsider"])
def test_only_a_called_department_reports_in(called, person, request):
    user = request.getfixturevalue(person)
    refused(lambda: issue_check_in(by=user, issue=called, note="到"), called)


def test_no_report_once_the_issue_is_closed(called, town, water, power):
    issue = issue_accept(by=water, issue=called)
    issue = issue_resolve(by=water, issue=issue, resolution="修好了", replies={})
    issue = issue_close(by=town, issue=issue, override_reason="住户搬走")
    refused(lambda: issue_check_in(by=power, issue=issue), issue, IllegalTransition)


# --------------------------------------------------------------------------- the page


def test_the_page_calls_departments_and_refuses_the_handling_unit(
    client, joint, town, water, departments
):
    body = {"departments": [departments.power.pk], "version": joint.version}
    client.force_login(water)
    before = written(joint)
    assert act(client, joint, "check_in", body).status_code == 403
    assert written(joint) == before
    client.force_login(town)
    response = act(client, joint, "check_in", body)
    assert response.status_code == 302
    assert list(CheckIn.objects.filter(issue=joint).values_list("department", flat=True)) == [
        departments.power.pk
    ]
    page = client.get(response["Location"]).content.decode()
    assert "Departments called (吹哨): 供电公司." in page


def test_the_page_reports_in_and_refuses_the_town(client, called, town, power):
    body = {"note": "下午到", "version": called.version}
    client.force_login(town)
    before = written(called)
    assert act(client, called, "report_in", body).status_code == 403
    assert written(called) == before
    client.force_login(power)
    response = act(client, called, "report_in", body)
    assert response.status_code == 302
    assert CheckIn.objects.get(issue=called, by=power).note == "下午到"
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "Your department has reported in (报到)." in page.content.decode()
