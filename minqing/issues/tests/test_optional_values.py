"""The optional values the services read are guarded where they can be missing: a dispatch
naming no unit (or two) is refused with its code and writes nothing; an issue whose registering
user is gone still tells the reporting household's liaisons; the worker's steps have no actor."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from minqing.accounts.models import Role
from minqing.audit.models import AuditEvent
from minqing.conftest import make_user
from minqing.contacts.models import ContactLink, Liaison
from minqing.issues.models import Issue, IssueEvent, Status
from minqing.issues.services import issue_dispatch
from minqing.lib.errors import codes_by_field
from minqing.notifications.models import Notification


def _written(issue: Issue) -> tuple:
    issue.refresh_from_db()
    return issue.status, issue.version, IssueEvent.objects.count(), AuditEvent.objects.count()


@pytest.mark.parametrize("units", ["none", "both"])
def test_a_dispatch_naming_no_unit_or_two_is_refused_and_writes_nothing(
    clock, county, town, departments, register, units
):
    issue = register()
    before = _written(issue)
    to_node = county.town_a if units == "both" else None
    to_department = departments.water if units == "both" else None
    with pytest.raises(ValidationError) as refused:
        issue_dispatch(by=town, issue=issue, to_node=to_node, to_department=to_department)
    assert codes_by_field(refused.value) == {"to": ["issue.one_unit"]}
    assert _written(issue) == before
    assert before[:2] == (Status.REGISTERED, 1)


def test_an_issue_whose_registering_user_is_gone_tells_the_households_liaisons(
    clock, county, town, departments, register
):
    leader = make_user("leader", Role.GROUP_LEADER, county.grid_a1)
    liaison = Liaison.objects.create(
        node=county.grid_a1, village=county.village_a, kind="group_leader", name="组长", user=leader
    )
    ContactLink.objects.create(household=county.household_a1, liaison=liaison, kind="group_leader")
    issue = register(household=county.household_a1)
    Issue.objects.filter(pk=issue.pk).update(created_by=None)  # the account was removed
    issue.refresh_from_db()
    issue_dispatch(by=town, issue=issue, to_department=departments.water)
    told = Notification.objects.filter(kind="issue.reported.dispatched")
    assert [n.recipient for n in told] == [leader]
    assert told.get().title == f"A problem your household reported (#{issue.pk}): sent to 区水利局"
