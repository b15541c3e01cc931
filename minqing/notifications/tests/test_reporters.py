"""The people who reported a problem hear of it: at dispatch, resolution,
reopening and closing, each in words with the issue's number; when nobody who logs in reported
it (a resident's own submission), the liaisons of the reporting household hear it instead."""

# ruff: noqa: F811 - pytest fixtures imported from the issues tests, used as arguments
from __future__ import annotations

from minqing.accounts.models import Role
from minqing.conftest import make_user
from minqing.contacts.models import ContactLink, Liaison
from minqing.issues.services import (
    issue_accept,
    issue_close,
    issue_dispatch,
    issue_resolve,
    issue_revisit,
)
from minqing.issues.tests.conftest import (  # noqa: F401 - the issue loop's fixtures
    clock,
    departments,
    irrigation,
    register,
    town,
    water,
)
from minqing.notifications.models import Notification


def _told(user) -> list[tuple[str, str, str]]:
    return list(
        Notification.objects.filter(recipient=user, kind__startswith="issue.reported.")
        .order_by("id")
        .values_list("kind", "title", "link")
    )


def _replies(issue):
    return {r.pk: "已修好" for r in issue.reporters.filter(replied_at__isnull=True)}


def test_the_reporter_hears_of_each_step_of_their_problem(
    clock, county, member, town, water, departments, register
):
    issue = register(household=county.household_a1)
    issue = issue_dispatch(by=town, issue=issue, to_department=departments.water)
    issue = issue_accept(by=water, issue=issue)
    issue = issue_resolve(by=water, issue=issue, resolution="换了渠段", replies=_replies(issue))
    issue_revisit(by=town, issue=issue, mode="phone", result="unsatisfied", words="还漏")
    issue.refresh_from_db()
    issue = issue_resolve(by=water, issue=issue, resolution="做了防渗", replies=_replies(issue))
    issue_revisit(by=town, issue=issue, mode="phone", result="satisfied")
    issue.refresh_from_db()
    issue_close(by=town, issue=issue)

    n, link = issue.pk, f"/issues/{issue.pk}/"
    assert _told(member) == [
        ("issue.reported.dispatched", f"The problem you reported (#{n}): sent to 区水利局", link),
        ("issue.reported.resolved", f"The problem you reported (#{n}): resolved", link),
        (
            "issue.reported.reopened",
            f"The problem you reported (#{n}): reopened, 区水利局 handles it again",
            link,
        ),
        ("issue.reported.resolved", f"The problem you reported (#{n}): resolved", link),
        ("issue.reported.closed", f"The problem you reported (#{n}): closed (销号)", link),
    ]
    # Nobody else is told as a reporter; the town is not told of its own steps.
    assert (
        not Notification.objects.filter(kind__startswith="issue.reported.")
        .exclude(recipient=member)
        .exists()
    )


def test_whoever_registers_and_dispatches_is_not_told_of_their_own_step(
    clock, county, town, departments, irrigation
):
    from minqing.issues.services import issue_register

    issue = issue_register(
        by=town, node=county.grid_a1, category=irrigation, description="路灯坏了", colour="yellow"
    )
    issue_dispatch(by=town, issue=issue, to_department=departments.water)
    assert _told(town) == []


def test_a_residents_own_submission_is_told_to_the_households_liaisons(
    clock, county, town, departments, irrigation
):
    from minqing.issues.services import issue_register

    intake = make_user("intake_test", Role.COMMAND_CENTRE, county.county)
    intake.set_unusable_password()  # the county's account for public submissions
    intake.save()
    leader = make_user("leader", Role.GROUP_LEADER, county.grid_a1)
    liaison = Liaison.objects.create(
        node=county.grid_a1, village=county.village_a, kind="group_leader", name="组长", user=leader
    )
    ContactLink.objects.create(household=county.household_a1, liaison=liaison, kind="group_leader")
    issue = issue_register(
        by=intake,
        node=county.grid_a1,
        category=irrigation,
        description="水渠漏水",
        colour="yellow",
        source="resident",
        household=county.household_a1,
    )
    issue_dispatch(by=town, issue=issue, to_department=departments.water)
    assert _told(leader) == [
        (
            "issue.reported.dispatched",
            f"A problem your household reported (#{issue.pk}): sent to 区水利局",
            f"/issues/{issue.pk}/",
        )
    ]
    assert _told(intake) == []
