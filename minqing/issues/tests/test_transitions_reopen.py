"""重办 — the resident is not satisfied (a revisit, a sample revisit after closing) or the problem
came back (a supervisor reopens a closed issue): back to the same unit with a fresh handling
deadline counted in working days, the replies to give again, the event and audit row, and every
refusal writing nothing.

2026 calendar: Friday 25 September (Mid-Autumn) and 1–7 October off, Saturday 10 October worked.
The yellow issue is with the water bureau from Monday 21 September and resolved on Tuesday 22.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from minqing.audit.actions import AuditAction
from minqing.issues.errors import IssueErrorCode
from minqing.issues.models import Issue, Revisit, Status
from minqing.issues.services import (
    IllegalTransition,
    issue_accept,
    issue_close,
    issue_dispatch,
    issue_reopen,
    issue_resolve,
    issue_revisit,
    issue_sample_revisit,
)
from minqing.issues.tests.test_transitions_extensions import (
    Api,
    act,
    at,
    audit_row,
    end_of,
    event_row,
    frozen,  # noqa: F401 - the fixture
    last_audit,
    last_event,
    refused,
    replies,
    written,
)
from minqing.notifications.models import Notification


@pytest.fixture
def resolved(frozen, county, town, water, departments, register) -> Issue:  # noqa: F811
    issue = register(household=county.household_a1)
    issue_dispatch(by=town, issue=issue, to_department=departments.water)
    frozen.move_to(at(2026, 9, 21, 11, 0))
    issue = issue_accept(by=water, issue=issue)
    frozen.move_to(at(2026, 9, 22, 16, 0))
    issue = issue_resolve(by=water, issue=issue, resolution="换了渠段", replies=replies(issue))
    frozen.move_to(at(2026, 9, 23, 10, 0))  # Wednesday
    return Issue.objects.get(pk=issue.pk)


@pytest.fixture
def closed(frozen, resolved, town) -> Issue:  # noqa: F811
    issue_revisit(by=town, issue=resolved, mode="phone", result="satisfied")
    frozen.move_to(at(2026, 9, 24, 9, 0))
    issue_close(by=town, issue=Issue.objects.get(pk=resolved.pk))
    frozen.move_to(at(2026, 9, 28, 10, 0))  # Monday: the water runs out again
    return Issue.objects.get(pk=resolved.pk)


def test_an_unsatisfied_revisit_reopens_it_to_the_same_unit(resolved, town, water, departments):
    revisit = issue_revisit(
        by=town, issue=resolved, mode="phone", result="unsatisfied", words="还是漏水"
    )
    assert (revisit.result, revisit.by, revisit.words) == ("unsatisfied", town, "还是漏水")
    issue = Issue.objects.get(pk=resolved.pk)
    assert (issue.status, issue.owner_department, issue.responsible) == (
        Status.REOPENED,
        departments.water,
        water,
    )
    assert (issue.resolved_at, issue.closed_at, issue.version) == (
        None,
        None,
        resolved.version + 1,
    )
    # A fresh handling period from Wednesday 23 September 10:00, five working days: 24, (25
    # Mid-Autumn), 28, 29, 30 September, (1–7 October off), Thursday 8 October.
    assert issue.final_due_at == issue.due_at == end_of(2026, 10, 8)
    assert issue.stage_started_at == at(2026, 9, 23, 10, 0)
    # 70 % of 14 + 5 × 24 = 134 working hours is 93.8 h: Wednesday 30 September 07:48.
    assert issue.warn_at == at(2026, 9, 30, 7, 48)
    event = last_event(issue)
    assert event_row(event) == ("reopen", Status.RESOLVED, Status.REOPENED, town)
    assert (event.note, event.data) == ("还是漏水", {"result": "unsatisfied", "mode": "phone"})
    assert audit_row(last_audit(issue)) == (
        AuditAction.ISSUE_REOPEN,
        town.pk,
        "town",
        {"from": "resolved", "to": "reopened", "result": "unsatisfied", "mode": "phone"},
    )
    assert Notification.objects.filter(recipient=water, kind="issue.reopened").count() == 1
    # Every reporter waits for a new reply (the old one is kept on the timeline).
    reporter = issue.reporters.get()
    assert reporter.replied_at is None
    error = refused(
        lambda: issue_resolve(by=water, issue=issue, resolution="再修"), issue, ValidationError
    )
    assert "replies" in error.message_dict


def test_an_unsatisfied_revisit_needs_the_residents_words(resolved, town):
    error = refused(
        lambda: issue_revisit(by=town, issue=resolved, mode="phone", result="unsatisfied"),
        resolved,
        ValidationError,
    )
    assert "words" in error.message_dict


def test_the_supervisor_reopens_a_closed_issue_with_a_deadline_over_the_holiday(
    closed, town, water, departments
):
    assert closed.status == Status.CLOSED
    issue = issue_reopen(by=town, issue=closed, reason="  又漏水了 ")
    issue = Issue.objects.get(pk=issue.pk)
    assert (issue.status, issue.owner_department) == (Status.REOPENED, departments.water)
    assert (issue.closed_at, issue.resolved_at, issue.version) == (None, None, closed.version + 1)
    # Five working days from Monday 28 September: 29, 30 September, (1–7 October off), 8, 9
    # and the make-up Saturday 10 October.
    assert issue.final_due_at == issue.due_at == end_of(2026, 10, 10)
    event = last_event(issue)
    assert event_row(event) == ("reopen", Status.CLOSED, Status.REOPENED, town)
    assert (event.note, event.data, event.at) == (
        "又漏水了",
        {"result": "unsatisfied"},
        at(2026, 9, 28, 10, 0),
    )
    assert audit_row(last_audit(issue)) == (
        AuditAction.ISSUE_REOPEN,
        town.pk,
        "town",
        {"from": "closed", "to": "reopened", "result": "unsatisfied"},
    )


def test_a_revisited_issue_can_be_reopened_before_it_is_closed(resolved, town):
    issue_revisit(by=town, issue=resolved, mode="home", result="basic")
    issue = issue_reopen(by=town, issue=Issue.objects.get(pk=resolved.pk), reason="又坏了")
    assert event_row(last_event(issue)) == ("reopen", Status.REVISITED, Status.REOPENED, town)


def test_an_unsatisfied_sample_revisit_reopens_a_closed_issue(closed, town):
    issue_sample_revisit(by=town, issue=closed, mode="wechat", result="unsatisfied", words="没修好")
    issue = Issue.objects.get(pk=closed.pk)
    assert issue.status == Status.REOPENED
    assert Revisit.objects.filter(issue=issue, sampled=True).get().result == "unsatisfied"
    event = last_event(issue)
    assert event_row(event) == ("reopen", Status.CLOSED, Status.REOPENED, town)
    assert event.data == {"result": "unsatisfied", "sampled": True}


@pytest.mark.parametrize("person", ["water", "owner", "member", "outsider"])
def test_only_the_supervisor_reopens_and_a_refusal_writes_nothing(closed, person, request):
    user = request.getfixturevalue(person)
    refused(lambda: issue_reopen(by=user, issue=closed, reason="又坏了"), closed)


@pytest.mark.parametrize("person", ["water", "owner", "member", "outsider"])
def test_only_the_supervisor_revisits(resolved, person, request):
    user = request.getfixturevalue(person)
    refused(
        lambda: issue_revisit(
            by=user, issue=resolved, mode="phone", result="unsatisfied", words="不满意"
        ),
        resolved,
    )


def test_an_issue_not_yet_revisited_or_closed_is_not_reopened(
    frozen,  # noqa: F811
    resolved,
    town,
    water,
    departments,
    register,
):
    error = refused(
        lambda: issue_reopen(by=town, issue=resolved, reason="又坏了"), resolved, IllegalTransition
    )
    assert "Resolved; it cannot be reopened now" in str(error)
    assert error.code == IssueErrorCode.WRONG_STATE
    working = issue_accept(
        by=water, issue=issue_dispatch(by=town, issue=register(), to_department=departments.water)
    )
    refused(
        lambda: issue_reopen(by=town, issue=working, reason="又坏了"), working, IllegalTransition
    )


def test_a_reopen_without_a_reason_is_refused(closed, town):
    error = refused(
        lambda: issue_reopen(by=town, issue=closed, reason=" "), closed, ValidationError
    )
    assert "reason" in error.message_dict


# --------------------------------------------------------------------------- API and page


def test_the_api_revisit_reopens_it_and_refuses_the_handling_unit(client, resolved, town, water):
    as_town, as_water = Api(client, town), Api(client, water)
    path = f"issues/{resolved.pk}/revisit/"
    body = {"mode": "phone", "result": "unsatisfied", "words": "还是漏水"}
    before = written(resolved)
    no = as_water.post(path, body)
    assert no.status_code == 403 and no.json()["code"] == "forbidden"
    assert written(resolved) == before
    yes = as_town.post(path, body)
    assert yes.status_code == 200, yes.content
    assert yes.json()["status"] == "reopened"
    assert yes.json()["timeline"][-1]["action"] == "reopen"
    again = as_town.post(path, body)
    assert again.status_code == 409 and again.json()["code"] == IssueErrorCode.WRONG_STATE


def test_the_page_reopens_and_refuses_the_handling_unit(client, closed, town, water):
    body = {"reason": "又漏水了", "version": closed.version}
    client.force_login(water)
    before = written(closed)
    assert act(client, closed, "reopen", body).status_code == 403
    assert written(closed) == before
    client.force_login(town)
    response = act(client, closed, "reopen", body)
    assert response.status_code == 302
    assert Issue.objects.get(pk=closed.pk).status == Status.REOPENED
    page = client.get(response["Location"])
    assert "Reopened: 区水利局 handles it again." in page.content.decode()
    # Reopened already: the same page's button again is refused by the state.
    before = written(closed)
    assert act(client, closed, "reopen", body).status_code == 409
    assert written(closed) == before
