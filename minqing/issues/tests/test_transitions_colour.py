"""升色 — raising an issue's colour: the new colour and level (and, before dispatch, the unit
that dispatches it), the deadlines kept, the event and audit row, and every refusal (wrong
person, a colour not higher, the top colour, a closed issue) writing nothing."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from minqing.audit.actions import AuditAction
from minqing.issues import actions
from minqing.issues.errors import IssueErrorCode
from minqing.issues.models import Colour, Issue, Level, Status
from minqing.issues.services import (
    IllegalTransition,
    issue_dispatch,
    issue_raise_colour,
)
from minqing.issues.tests.test_transitions_extensions import (
    act,
    at,
    audit_row,
    end_of,
    event_row,
    frozen,  # noqa: F401 - the fixture
    last_audit,
    last_event,
    refused,
    written,
)
from minqing.lib.errors import PermissionDenied
from minqing.notifications.models import Notification


@pytest.fixture
def blue(frozen, register) -> Issue:  # noqa: F811
    """A blue (village) issue registered Monday 21 September 2026 10:00, waiting for the
    village to dispatch it by the end of Tuesday."""
    issue = register(colour=Colour.BLUE)
    frozen.move_to(at(2026, 9, 21, 15, 0))
    return issue


def test_the_village_raises_a_blue_issue_to_the_town(blue, county, owner, town):
    assert (blue.level, blue.owner_node) == (Level.VILLAGE, county.village_a)
    issue = issue_raise_colour(by=owner, issue=blue, colour=Colour.YELLOW, reason="涉及两个村")
    issue = Issue.objects.get(pk=issue.pk)
    assert (issue.colour, issue.level, issue.owner_node, issue.status) == (
        Colour.YELLOW,
        Level.TOWN,
        county.town_a,  # not dispatched yet: the town dispatches it now
        Status.REGISTERED,
    )
    assert issue.version == blue.version + 1
    # The deadlines stay as they were.
    assert (issue.due_at, issue.final_due_at, issue.warn_at) == (
        blue.due_at,
        blue.final_due_at,
        blue.warn_at,
    )
    assert issue.due_at == end_of(2026, 9, 22)
    event = last_event(issue)
    assert event_row(event) == ("raise_colour", Status.REGISTERED, Status.REGISTERED, owner)
    assert (event.note, event.data, event.at) == (
        "涉及两个村",
        {"from_colour": "blue", "to_colour": "yellow"},
        at(2026, 9, 21, 15, 0),
    )
    assert audit_row(last_audit(issue)) == (
        AuditAction.ISSUE_RAISE_COLOUR,
        owner.pk,
        "owner",
        {
            "from": "registered",
            "to": "registered",
            "from_colour": "blue",
            "to_colour": "yellow",
        },
    )
    assert Notification.objects.filter(recipient=town, kind="issue.colour").count() == 1
    # The village no longer dispatches it; the town does.
    with pytest.raises(PermissionDenied):
        issue_dispatch(by=owner, issue=issue, to_node=county.village_a)


def test_a_dispatched_issue_raised_to_orange_stays_with_its_unit(
    frozen,  # noqa: F811
    town,
    departments,
    register,
    county_user,
):
    issue = issue_dispatch(by=town, issue=register(), to_department=departments.water)
    issue = issue_raise_colour(by=town, issue=issue, colour=Colour.ORANGE, reason="需要县里协调")
    issue = Issue.objects.get(pk=issue.pk)
    assert (issue.colour, issue.level, issue.owner_department, issue.status) == (
        Colour.ORANGE,
        Level.COMMITTEE,
        departments.water,
        Status.DISPATCHED,
    )
    assert event_row(last_event(issue)) == (
        "raise_colour",
        Status.DISPATCHED,
        Status.DISPATCHED,
        town,
    )
    # Orange is the top: nothing higher, whoever asks.
    error = refused(
        lambda: issue_raise_colour(by=county_user, issue=issue, colour="orange", reason="再升"),
        issue,
        IllegalTransition,
    )
    assert "only be raised" in str(error) and error.code == IssueErrorCode.NOT_NOW
    # The town supervised a yellow issue; the county committee supervises an orange one.
    assert not actions.supervisor(town, issue) and actions.supervisor(county_user, issue)


@pytest.mark.parametrize("colour", [Colour.BLUE, Colour.GREEN, "purple"])
def test_a_colour_not_higher_is_refused_and_writes_nothing(blue, owner, colour):
    error = refused(
        lambda: issue_raise_colour(by=owner, issue=blue, colour=colour, reason="改颜色"),
        blue,
        ValidationError,
    )
    assert "colour" in error.message_dict


def test_a_raise_without_a_reason_is_refused(blue, owner):
    error = refused(
        lambda: issue_raise_colour(by=owner, issue=blue, colour="yellow", reason="  "),
        blue,
        ValidationError,
    )
    assert "reason" in error.message_dict


@pytest.mark.parametrize("person", ["member", "outsider", "water"])
def test_only_its_unit_or_supervisor_raises_a_blue_issue(blue, person, request):
    user = request.getfixturevalue(person)
    refused(lambda: issue_raise_colour(by=user, issue=blue, colour="yellow", reason="升"), blue)


def test_the_village_cannot_raise_a_yellow_issue_of_the_town(frozen, owner, register):  # noqa: F811
    issue = register(colour=Colour.YELLOW)
    refused(lambda: issue_raise_colour(by=owner, issue=issue, colour="orange", reason="升"), issue)


def test_a_closed_issue_keeps_its_colour(frozen, owner, town, register):  # noqa: F811
    issue = register(colour=Colour.GREEN, resolution="当场修好了")
    assert issue.status == Status.CLOSED
    error = refused(
        lambda: issue_raise_colour(by=town, issue=issue, colour="yellow", reason="又坏了"),
        issue,
        IllegalTransition,
    )
    assert "Closed" in str(error) and error.code == IssueErrorCode.WRONG_STATE


# --------------------------------------------------------------------------- the page


def test_the_page_raises_the_colour_and_refuses_the_grid_worker(client, blue, owner, member):
    body = {"colour": "yellow", "reason": "涉及两个村", "version": blue.version}
    client.force_login(member)
    before = written(blue)
    assert act(client, blue, "raise_colour", body).status_code == 403
    assert written(blue) == before
    client.force_login(owner)
    response = act(client, blue, "raise_colour", body)
    assert response.status_code == 302
    issue = Issue.objects.get(pk=blue.pk)
    assert (issue.colour, issue.level) == (Colour.YELLOW, Level.TOWN)
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert f"The colour is now {issue.colour_label}." in page.content.decode()
