"""延期 — asking for more working days and the supervisor's decision: the request, the event and
the audit row each writes, the deadline moved by exactly that many working days (across the
2026 National Day holiday), and every refusal (wrong person, wrong state) writing nothing.

The small helpers at the top (the frozen clock, what one issue has written) are shared by the
other ``test_transitions_*`` modules.

2026 calendar: Friday 25 September (Mid-Autumn) and 1–7 October off, Sunday 20 September and
Saturday 10 October worked. Every issue
here is registered, dispatched and accepted on Monday 21 September (China time).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from minqing.accounts.models import Role
from minqing.accounts.services import api_token_issue
from minqing.audit.actions import AuditAction
from minqing.audit.models import AuditEvent
from minqing.conftest import make_user
from minqing.issues.errors import IssueErrorCode
from minqing.issues.models import (
    CheckIn,
    ExtensionRequest,
    Issue,
    IssueEvent,
    IssueReporter,
    Revisit,
    Status,
)
from minqing.issues.services import (
    IllegalTransition,
    extension_decide,
    extension_request,
    issue_accept,
    issue_dispatch,
    issue_resolve,
)
from minqing.lib.errors import PermissionDenied
from minqing.notifications.models import Notification

SHANGHAI = ZoneInfo("Asia/Shanghai")

# --------------------------------------------------------------------------- shared helpers


def at(*args: int) -> dt.datetime:
    """An instant in China time."""
    return dt.datetime(*args, tzinfo=SHANGHAI)


def end_of(year: int, month: int, day: int) -> dt.datetime:
    """The last instant of a (China) day: where a deadline in working days ends."""
    return at(year, month, day, 23, 59, 59, 999999)


@pytest.fixture
def frozen():
    """The clock stopped at Monday 21 September 2026, 10:00 China time; ``move_to`` moves it."""
    with time_machine.travel(at(2026, 9, 21, 10, 0), tick=False) as traveller:
        yield traveller


@dataclass(frozen=True)
class Written:
    """Everything a step on one issue could write (compare two to see that nothing was)."""

    issue: dict[str, Any]
    events: list[int]
    audit: list[int]
    notifications: int
    extensions: list[dict[str, Any]]
    check_ins: list[dict[str, Any]]
    reporters: list[dict[str, Any]]
    revisits: list[int]


def written(issue: Issue) -> Written:
    return Written(
        issue=Issue.objects.filter(pk=issue.pk).values().get(),
        events=list(IssueEvent.objects.filter(issue_id=issue.pk).values_list("pk", flat=True)),
        audit=list(AuditEvent.objects.values_list("pk", flat=True)),
        notifications=Notification.objects.count(),
        extensions=list(ExtensionRequest.objects.filter(issue_id=issue.pk).order_by("pk").values()),
        check_ins=list(CheckIn.objects.filter(issue_id=issue.pk).order_by("pk").values()),
        reporters=list(IssueReporter.objects.filter(issue_id=issue.pk).order_by("pk").values()),
        revisits=list(Revisit.objects.filter(issue_id=issue.pk).values_list("pk", flat=True)),
    )


def refused(call, issue: Issue, error: type[Exception] = PermissionDenied) -> Exception:
    """Run ``call``, which must raise ``error``, and check that it wrote nothing at all."""
    before = written(issue)
    with pytest.raises(error) as caught:
        call()
    assert written(issue) == before
    return caught.value


def last_event(issue: Issue) -> IssueEvent:
    return IssueEvent.objects.filter(issue_id=issue.pk).latest("at", "id")


def last_audit(issue: Issue) -> AuditEvent:
    return AuditEvent.objects.filter(object_type="issues.issue", object_id=str(issue.pk)).latest(
        "id"
    )


def event_row(event: IssueEvent) -> tuple[Any, ...]:
    return (event.action, event.from_status, event.to_status, event.actor)


def audit_row(audit: AuditEvent) -> tuple[Any, ...]:
    return (audit.action, audit.user_id_value, audit.username, audit.detail)


def replies(issue: Issue) -> dict[int, str]:
    return {r.pk: "已处理好" for r in issue.reporters.filter(replied_at__isnull=True)}


class Api:
    """JSON requests to /api/v1/ with one user's bearer token (made before any snapshot: the
    token itself is audited)."""

    def __init__(self, client, user) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {api_token_issue(user=user)[1]}"}

    def post(self, path: str, body: dict[str, Any]):
        return self.client.post(
            f"/api/v1/{path}",
            data=json.dumps(body),
            content_type="application/json",
            headers=self.headers,
        )

    def patch(self, path: str, body: dict[str, Any]):
        return self.client.patch(
            f"/api/v1/{path}",
            data=json.dumps(body),
            content_type="application/json",
            headers=self.headers,
        )


def act(client, issue: Issue, step: str, data: dict[str, Any]):
    """POST one step of the issue page."""
    return client.post(reverse("issues:act", kwargs={"pk": issue.pk, "action": step}), data)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def accepted(frozen, county, member, town, water, departments, register) -> Issue:
    """Yellow, with the water bureau since Monday 21 September 11:00: five working days from its
    registration (22, 23, 24, 28, 29: the 25th is Mid-Autumn) make it due Tuesday the 29th."""
    issue = register(household=county.household_a1)
    issue_dispatch(by=town, issue=issue, to_department=departments.water)
    frozen.move_to(at(2026, 9, 21, 11, 0))
    issue = issue_accept(by=water, issue=issue)
    assert issue.final_due_at == issue.due_at == end_of(2026, 9, 29)
    frozen.move_to(at(2026, 9, 24, 9, 0))  # Thursday
    return Issue.objects.get(pk=issue.pk)


@pytest.fixture
def pending(accepted, water) -> ExtensionRequest:
    return extension_request(by=water, issue=accepted, workdays=3, reason="管材还没到货")


# --------------------------------------------------------------------------- the request


def test_a_request_writes_the_request_one_event_and_one_audit_row(accepted, water, town):
    before = accepted.version
    ext = extension_request(by=water, issue=accepted, workdays=3, reason="  管材还没到货 ")
    assert (ext.decision, ext.workdays, ext.reason, ext.requested_by) == (
        ExtensionRequest.Decision.PENDING,
        3,
        "管材还没到货",
        water,
    )
    issue = Issue.objects.get(pk=accepted.pk)
    # Asking moves nothing yet: same state, same deadlines, one version on.
    assert (issue.status, issue.version) == (Status.ACCEPTED, before + 1)
    assert (issue.due_at, issue.final_due_at, issue.warn_at) == (
        accepted.due_at,
        accepted.final_due_at,
        accepted.warn_at,
    )
    event = last_event(issue)
    assert event_row(event) == ("extension_request", Status.ACCEPTED, Status.ACCEPTED, water)
    assert (event.note, event.data) == ("管材还没到货", {"workdays": 3})
    assert event.at == at(2026, 9, 24, 9, 0)
    assert audit_row(last_audit(issue)) == (
        AuditAction.ISSUE_EXTENSION_REQUEST,
        water.pk,
        "water",
        {"from": "accepted", "to": "accepted", "workdays": 3},
    )
    # The town, which supervises the yellow issue, is told.
    assert Notification.objects.filter(recipient=town, kind="issue.extension").count() == 1


@pytest.mark.parametrize("person", ["owner", "member", "outsider", "town", "power"])
def test_only_the_unit_handling_it_may_ask_and_a_refusal_writes_nothing(
    accepted, person, request, departments
):
    if person == "power":
        user = make_user("power", Role.DEPARTMENT, department=departments.power)
    else:
        user = request.getfixturevalue(person)
    refused(lambda: extension_request(by=user, issue=accepted, workdays=2, reason="等料"), accepted)


def test_asking_is_refused_before_dispatch_and_after_resolution(
    frozen, water, town, departments, register
):
    issue = register()
    error = refused(
        lambda: extension_request(by=town, issue=issue, workdays=2, reason="等料"),
        issue,
        IllegalTransition,
    )
    assert "Registered" in str(error) and error.code == IssueErrorCode.WRONG_STATE
    issue = issue_accept(
        by=water, issue=issue_dispatch(by=town, issue=issue, to_department=departments.water)
    )
    issue = issue_resolve(by=water, issue=issue, resolution="修好了", replies={})
    refused(
        lambda: extension_request(by=water, issue=issue, workdays=2, reason="等料"),
        issue,
        IllegalTransition,
    )


def test_a_second_request_while_one_waits_is_refused(pending, accepted, water):
    error = refused(
        lambda: extension_request(by=water, issue=accepted, workdays=1, reason="再等等"),
        accepted,
        IllegalTransition,
    )
    assert "already waiting" in str(error) and error.code == IssueErrorCode.NOT_NOW


@pytest.mark.parametrize(
    ("workdays", "reason", "field"),
    [
        (0, "等料", "workdays"),
        (31, "等料", "workdays"),
        ("三", "等料", "workdays"),
        (2, " ", "reason"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(accepted, water, workdays, reason, field):
    error = refused(
        lambda: extension_request(by=water, issue=accepted, workdays=workdays, reason=reason),
        accepted,
        ValidationError,
    )
    assert field in error.message_dict
    if field == "workdays":
        assert error.error_dict["workdays"][0].code == IssueErrorCode.WORKDAYS


# --------------------------------------------------------------------------- the decision


def test_approval_moves_the_deadline_by_exactly_that_many_working_days(
    pending, accepted, town, water
):
    ext = extension_decide(by=town, extension=pending, approve=True, note="同意")
    assert (ext.decision, ext.decided_by, ext.decided_at) == (
        ExtensionRequest.Decision.APPROVED,
        town,
        at(2026, 9, 24, 9, 0),
    )
    issue = Issue.objects.get(pk=accepted.pk)
    # Three working days after Tuesday 29 September: the 30th, then the holiday (1–7
    # October), then Thursday 8 and Friday 9 October.
    assert issue.final_due_at == issue.due_at == end_of(2026, 10, 9)
    # The yellow light at 70 % of the stage's working time from 21 September 11:00: 13 h that
    # Monday + 8 working days = 205 h; 143.5 h is Wednesday 30 September 10:30.
    assert issue.warn_at == at(2026, 9, 30, 10, 30)
    assert not issue.warned
    assert (issue.status, issue.version) == (Status.ACCEPTED, accepted.version + 2)
    event = last_event(issue)
    assert event_row(event) == ("extension_approved", Status.ACCEPTED, Status.ACCEPTED, town)
    assert (event.note, event.data) == ("同意", {"workdays": 3})
    assert audit_row(last_audit(issue)) == (
        AuditAction.ISSUE_EXTENSION_APPROVED,
        town.pk,
        "town",
        {"from": "accepted", "to": "accepted", "workdays": 3},
    )
    assert Notification.objects.filter(recipient=water, kind="issue.extension_decided").exists()


def test_approval_while_waiting_to_be_accepted_moves_only_the_final_deadline(
    frozen, town, water, departments, register
):
    issue = issue_dispatch(by=town, issue=register(), to_department=departments.water)
    # Dispatched Monday 21 September 10:00: accept by the end of Tuesday, handle by Tuesday 29.
    assert (issue.due_at, issue.final_due_at) == (end_of(2026, 9, 22), end_of(2026, 9, 29))
    ext = extension_request(by=water, issue=issue, workdays=2, reason="先看现场")
    extension_decide(by=town, extension=ext, approve=True)
    issue = Issue.objects.get(pk=issue.pk)
    assert issue.final_due_at == end_of(2026, 10, 8)  # 30 September, 8 October
    assert issue.due_at == end_of(2026, 9, 22)  # the accept stage keeps its own clock
    assert issue.status == Status.DISPATCHED


def test_refusal_keeps_every_deadline(pending, accepted, town):
    ext = extension_decide(by=town, extension=pending, approve=False, note="抓紧办")
    assert ext.decision == ExtensionRequest.Decision.REFUSED
    issue = Issue.objects.get(pk=accepted.pk)
    assert (issue.due_at, issue.final_due_at, issue.warn_at) == (
        accepted.due_at,
        accepted.final_due_at,
        accepted.warn_at,
    )
    assert issue.version == accepted.version + 2
    event = last_event(issue)
    assert event_row(event) == ("extension_refused", Status.ACCEPTED, Status.ACCEPTED, town)
    assert (event.note, event.data) == ("抓紧办", {"workdays": 3})
    assert last_audit(issue).action == AuditAction.ISSUE_EXTENSION_REFUSED


@pytest.mark.parametrize("person", ["water", "owner", "member", "outsider"])
def test_only_the_supervisor_decides_and_a_refusal_writes_nothing(
    pending, accepted, person, request
):
    user = request.getfixturevalue(person)
    refused(lambda: extension_decide(by=user, extension=pending, approve=True), accepted)
    assert ExtensionRequest.objects.get(pk=pending.pk).decision == "pending"


def test_a_request_is_decided_once(pending, accepted, town):
    extension_decide(by=town, extension=pending, approve=True)
    issue = Issue.objects.get(pk=accepted.pk)
    error = refused(
        lambda: extension_decide(by=town, extension=pending, approve=False),
        issue,
        IllegalTransition,
    )
    assert "already been decided" in str(error) and error.code == IssueErrorCode.ALREADY_DECIDED


def test_no_deadline_moves_once_the_issue_is_resolved(pending, accepted, town, water):
    issue = issue_resolve(by=water, issue=accepted, resolution="修好了", replies=replies(accepted))
    error = refused(
        lambda: extension_decide(by=town, extension=pending, approve=True),
        issue,
        IllegalTransition,
    )
    assert "no deadline to move" in str(error) and error.code == IssueErrorCode.WRONG_STATE


# --------------------------------------------------------------------------- API and page


def test_the_api_asks_for_more_time_and_refuses_the_wrong_unit(client, accepted, water, owner):
    as_water, as_owner = Api(client, water), Api(client, owner)
    path = f"issues/{accepted.pk}/extension/"
    before = written(accepted)
    no = as_owner.post(path, {"workdays": 2, "reason": "等料"})
    assert no.status_code == 403 and no.json()["code"] == "forbidden"
    assert written(accepted) == before
    yes = as_water.post(path, {"workdays": 2, "reason": "等料"})
    assert yes.status_code == 200, yes.content
    assert yes.json()["timeline"][-1]["action"] == "extension_request"
    assert ExtensionRequest.objects.get(issue=accepted).workdays == 2
    again = as_water.post(path, {"workdays": 2, "reason": "等料"})
    assert again.status_code == 409 and again.json()["code"] == IssueErrorCode.NOT_NOW


def test_the_page_decides_and_refuses_the_handling_unit(client, pending, accepted, town, water):
    body = {"extension": pending.pk, "approve": "1", "note": ""}
    client.force_login(water)
    before = written(accepted)
    assert act(client, accepted, "decide", body).status_code == 403
    assert written(accepted) == before
    client.force_login(town)
    response = act(client, accepted, "decide", body)
    assert response.status_code == 302
    issue = Issue.objects.get(pk=accepted.pk)
    assert issue.due_at == end_of(2026, 10, 9)
    page = client.get(response["Location"]).content.decode()
    assert "More time approved; it is now due 2026-10-09." in page
