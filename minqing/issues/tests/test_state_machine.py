"""The issue's closed loop as a state machine (hypothesis): random sequences of steps through the
real services on the test database, checked against a model of the loop written here from the
states' documentation (``Status``) rather than read from the table of steps.

Each step is taken by someone entitled to it (the county command centre supervises every level;
the unit holding the issue handles it), so a refusal can only come from the state or the issue
itself. After every step:

- the status is one of ``Status``;
- a step taken wrote exactly one timeline event (from the old status, to the issue's status, by
  the actor) and one audit row, and moved the version on by one; a refused step wrote nothing;
- the model agrees on whether the step was allowed and on the state it leads to;
- an open issue has a deadline (``due_at``, never past the handling deadline, equal to it while
  the unit works on it); a finished one shows no traffic light;
- a closed issue takes nothing but a sample revisit or a reopening; a merged one takes nothing.

Each example runs in a savepoint rolled back at its end, on a clock stopped at Monday 2 November
2026 09:00 (China time) and moved one hour per step.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.db import transaction
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from minqing.accounts.models import Role
from minqing.audit.models import AuditEvent
from minqing.conftest import make_user
from minqing.issues.models import (
    COLOUR_ORDER,
    OPEN_STATES,
    WORKING_STATES,
    CheckIn,
    Colour,
    ExtensionRequest,
    Issue,
    IssueEvent,
    Source,
    Status,
)
from minqing.issues.services import (
    IllegalTransition,
    extension_decide,
    extension_request,
    issue_accept,
    issue_call_departments,
    issue_check_in,
    issue_close,
    issue_dispatch,
    issue_escalate,
    issue_merge,
    issue_offer,
    issue_raise_colour,
    issue_register,
    issue_reopen,
    issue_resolve,
    issue_return,
    issue_revisit,
    issue_sample_revisit,
    issue_start,
    issue_take,
    issue_transfer,
    issue_update,
)
from minqing.issues.tests.test_transitions_extensions import at, written
from minqing.lib.errors import PermissionDenied

S = Status
OPEN = frozenset(OPEN_STATES)
IN_HAND = OPEN - {S.REGISTERED, S.RETURNED}

#: The model: the states each step starts from (the loop of ``Status``' docstring), and the
#: state it leads to (None: the state stays).
MODEL: dict[str, tuple[frozenset[str], str | None]] = {
    "dispatch": (frozenset({S.REGISTERED, S.RETURNED}), S.DISPATCHED),
    "offer": (frozenset({S.REGISTERED, S.RETURNED}), S.DISPATCHED),
    "take": (frozenset({S.REGISTERED, S.RETURNED, S.DISPATCHED}), S.ACCEPTED),
    "accept": (frozenset({S.DISPATCHED}), S.ACCEPTED),
    "start": (frozenset({S.ACCEPTED, S.REOPENED}), S.IN_PROGRESS),
    "resolve": (frozenset({S.ACCEPTED, S.IN_PROGRESS, S.REOPENED}), S.RESOLVED),
    "revisit_satisfied": (frozenset({S.RESOLVED}), S.REVISITED),
    "revisit_unsatisfied": (frozenset({S.RESOLVED}), S.REOPENED),
    "close": (frozenset({S.REVISITED}), S.CLOSED),
    "close_override": (frozenset({S.RESOLVED}), S.CLOSED),
    "return": (frozenset({S.DISPATCHED, S.ACCEPTED}), S.RETURNED),
    "transfer": (IN_HAND, S.DISPATCHED),
    "escalate": (OPEN, None),  # to dispatched when the issue changes hands (checked below)
    "extension_request": (IN_HAND, None),
    "extension_approve": (OPEN, None),
    "extension_refuse": (OPEN, None),
    "raise_colour": (OPEN, None),
    "call_departments": (OPEN, None),
    "report_in": (OPEN, None),
    "edit": (OPEN, None),
    "merge": (OPEN, S.MERGED),
    "reopen": (frozenset({S.CLOSED, S.REVISITED}), S.REOPENED),
    "sample_revisit_satisfied": (frozenset({S.CLOSED}), None),
    "sample_revisit_unsatisfied": (frozenset({S.CLOSED}), S.REOPENED),
}
#: What a closed issue still takes (besides photos).
AFTER_CLOSING = {"reopen", "sample_revisit_satisfied", "sample_revisit_unsatisfied"}
#: Steps of the unit that holds the issue (nobody holds an order offered to co-building units).
HANDLER_STEPS = {"accept", "start", "resolve", "return", "extension_request"}


def test_the_closed_loop_as_a_state_machine(
    county, member, county_user, water, shop, departments, irrigation
):
    power = make_user("power", Role.DEPARTMENT, department=departments.power)
    staff = {departments.water.pk: water, departments.power.pk: power, departments.charity.pk: shop}

    class IssueLoop(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.savepoint = transaction.atomic()
            self.savepoint.__enter__()
            self.clock = time_machine.travel(at(2026, 11, 2, 9, 0), tick=False)
            self.traveller = self.clock.start()
            self.issue: Issue | None = None
            self.target: Issue | None = None
            self.edits = 0

        def teardown(self) -> None:
            transaction.set_rollback(True)
            self.savepoint.__exit__(None, None, None)
            self.clock.stop()

        # ------------------------------------------------------------------- who and what

        def fresh(self) -> Issue:
            assert self.issue is not None
            return Issue.objects.select_related("owner_node", "owner_department").get(
                pk=self.issue.pk
            )

        def handler(self, issue: Issue) -> Any:
            """Whoever acts for the unit holding the issue (None: nobody holds it)."""
            if issue.owner_department_id is not None:
                return staff[issue.owner_department_id]
            if issue.owner_node_id is not None:
                return county_user  # the command centre acts for every unit of the tree
            return None

        def merge_target(self) -> Issue:
            assert self.target is not None
            return Issue.objects.get(pk=self.target.pk)

        def expected(self, name: str, issue: Issue) -> str:
            """'ok', 'illegal' (the state or the issue does not allow it), 'denied' (nobody
            entitled), or 'noop' (allowed, nothing to do)."""
            states, _to = MODEL[name]
            if issue.status not in states:
                return "illegal"
            pending = issue.extensions.filter(decision="pending").exists()
            call = CheckIn.objects.filter(issue=issue, department=departments.power).first()
            if name == "extension_request" and pending:
                return "illegal"
            if name in ("extension_approve", "extension_refuse") and not pending:
                return "illegal"
            if name == "raise_colour" and issue.colour == Colour.ORANGE:
                return "illegal"
            if name == "call_departments":
                if issue.colour not in (Colour.YELLOW, Colour.ORANGE):
                    return "illegal"
                if call is not None:
                    return "noop"
            if name == "report_in" and (call is None or call.at is not None):
                return "denied"
            if name == "offer" and issue.source != Source.RESIDENT:
                return "illegal"
            if name == "take" and not issue.offered:
                return "illegal"
            if name in HANDLER_STEPS and self.handler(issue) is None:
                return "denied"
            if name == "merge" and self.merge_target().status not in OPEN:
                return "illegal"
            return "ok"

        def take(self, name: str, issue: Issue, choice: int) -> tuple[Any, Any]:
            """Take step ``name`` as someone entitled to it; return (actor, result)."""
            boss = county_user
            unit = self.handler(issue) or county_user
            replies = {r.pk: "已处理" for r in issue.reporters.filter(replied_at__isnull=True)}
            units = [
                {"to_department": departments.water},
                {"to_department": departments.power},
                {"to_node": county.village_a},
                {"to_node": county.town_a},
            ]
            other = departments.power if issue.owner_department == departments.water else None
            steps = {
                "dispatch": lambda: (
                    boss,
                    issue_dispatch(by=boss, issue=issue, level_confirmed=True, **units[choice % 4]),
                ),
                "offer": lambda: (boss, issue_offer(by=boss, issue=issue, note="请接单")),
                "take": lambda: (shop, issue_take(by=shop, issue=issue, note="下午上门")),
                "accept": lambda: (unit, issue_accept(by=unit, issue=issue, note="明天去")),
                "start": lambda: (unit, issue_start(by=unit, issue=issue)),
                "resolve": lambda: (
                    unit,
                    issue_resolve(by=unit, issue=issue, resolution="修好了", replies=replies),
                ),
                "revisit_satisfied": lambda: (
                    boss,
                    issue_revisit(by=boss, issue=issue, mode="phone", result="satisfied"),
                ),
                "revisit_unsatisfied": lambda: (
                    boss,
                    issue_revisit(
                        by=boss, issue=issue, mode="home", result="unsatisfied", words="没修好"
                    ),
                ),
                "close": lambda: (boss, issue_close(by=boss, issue=issue)),
                "close_override": lambda: (
                    boss,
                    issue_close(by=boss, issue=issue, override_reason="住户搬走"),
                ),
                "return": lambda: (unit, issue_return(by=unit, issue=issue, reason="派错了")),
                "transfer": lambda: (
                    boss,
                    issue_transfer(
                        by=boss,
                        issue=issue,
                        reason="转交",
                        to_department=other or departments.water,
                    ),
                ),
                "escalate": lambda: (boss, issue_escalate(by=boss, issue=issue, reason="催办")),
                "extension_request": lambda: (
                    unit,
                    extension_request(by=unit, issue=issue, workdays=choice + 1, reason="等料"),
                ),
                "extension_approve": lambda: (boss, self.decide(issue, approve=True)),
                "extension_refuse": lambda: (boss, self.decide(issue, approve=False)),
                "raise_colour": lambda: (
                    boss,
                    issue_raise_colour(
                        by=boss,
                        issue=issue,
                        colour=COLOUR_ORDER[min(COLOUR_ORDER.index(issue.colour) + 1, 3)],
                        reason="更难",
                    ),
                ),
                "call_departments": lambda: (
                    boss,
                    issue_call_departments(by=boss, issue=issue, departments=[departments.power]),
                ),
                "report_in": lambda: (power, issue_check_in(by=power, issue=issue, note="已到")),
                "edit": lambda: (boss, self.edit(issue)),
                "merge": lambda: (
                    boss,
                    issue_merge(by=boss, source=issue, target=self.merge_target()),
                ),
                "reopen": lambda: (boss, issue_reopen(by=boss, issue=issue, reason="又坏了")),
                "sample_revisit_satisfied": lambda: (
                    boss,
                    issue_sample_revisit(by=boss, issue=issue, mode="phone", result="satisfied"),
                ),
                "sample_revisit_unsatisfied": lambda: (
                    boss,
                    issue_sample_revisit(
                        by=boss, issue=issue, mode="phone", result="unsatisfied", words="又坏"
                    ),
                ),
            }
            return steps[name]()

        def decide(self, issue: Issue, *, approve: bool) -> Any:
            ext = issue.extensions.order_by("-pk").first()
            if ext is None:  # nothing ever asked: there is nothing to decide on
                raise IllegalTransition("no request")
            return extension_decide(by=county_user, extension=ext, approve=approve)

        def edit(self, issue: Issue) -> Issue:
            self.edits += 1
            return issue_update(
                by=county_user, issue=issue, data={"title": f"标题{self.edits}"}, version=None
            )

        # ------------------------------------------------------------------- rules

        @initialize(
            colour=st.sampled_from([Colour.GREEN, Colour.BLUE, Colour.YELLOW, Colour.ORANGE]),
            resident=st.booleans(),
            household=st.booleans(),
        )
        def register(self, colour: str, resident: bool, household: bool) -> None:
            self.target = issue_register(  # an open issue to merge into
                by=member,
                node=county.grid_a1,
                category=irrigation,
                description="同一条水渠另一处也漏水",
                colour=Colour.BLUE,
            )
            self.issue = issue_register(
                by=member,
                node=county.grid_a1,
                category=irrigation,
                description="村东头的灌溉水渠破了",
                colour=colour,
                source=Source.RESIDENT if resident else Source.VISIT,
                household=county.household_a1 if household else None,
                resolution="当场修好" if colour == Colour.GREEN else "",
            )
            issue = self.fresh()
            assert issue.status == (S.CLOSED if colour == Colour.GREEN else S.REGISTERED)
            self.check(issue)

        @rule(data=st.data(), choice=st.integers(0, 3))
        def step_allowed(self, data: st.DataObject, choice: int) -> None:
            """One of the steps the model allows now (so that runs get round the loop)."""
            issue = self.fresh()
            names = [n for n in sorted(MODEL) if self.expected(n, issue) == "ok"]
            onward = [n for n in names if MODEL[n][1] not in (None, S.MERGED)]
            if onward and data.draw(st.booleans(), label="onward"):
                names = onward  # a step that changes the state, half of the time
            if names:
                self.step(data.draw(st.sampled_from(names), label="allowed"), choice)

        @rule(name=st.sampled_from(sorted(MODEL)), choice=st.integers(0, 3))
        def step(self, name: str, choice: int) -> None:
            """Any step at all: most are refused, and must write nothing."""
            self.traveller.shift(dt.timedelta(hours=1))
            issue = self.fresh()
            expect = self.expected(name, issue)
            event(f"{name}: {expect}")  # --hypothesis-show-statistics lists what was tried
            if issue.status == S.CLOSED and name not in AFTER_CLOSING:
                assert expect == "illegal", name  # the model itself says what closing means
            if issue.status == S.MERGED:
                assert expect == "illegal", name
            before = written(issue)
            try:
                actor, _result = self.take(name, issue, choice)
            except IllegalTransition as exc:
                assert expect == "illegal", (name, issue.status, expect, exc)
                assert written(issue) == before, name
                return
            except PermissionDenied as exc:
                assert expect == "denied", (name, issue.status, expect, exc)
                assert written(issue) == before, name
                return
            assert expect in ("ok", "noop"), (name, issue.status, expect)
            after = self.fresh()
            if expect == "noop":
                assert written(after) == before, name
                return
            self.check_step(name, issue, after, actor, before)

        # ------------------------------------------------------------------- checks

        def check_step(self, name: str, was: Issue, now: Issue, actor: Any, before) -> None:
            new_events = list(
                IssueEvent.objects.filter(issue_id=now.pk).exclude(pk__in=before.events)
            )
            assert len(new_events) == 1, (name, [e.action for e in new_events])
            event = new_events[0]
            assert (event.from_status, event.to_status, event.actor) == (
                was.status,
                now.status,
                actor,
            ), name
            assert now.version == was.version + 1, name
            _states, to = MODEL[name]
            if name == "escalate":
                assert now.status in (was.status, S.DISPATCHED)
            else:
                assert now.status == (to or was.status), (name, was.status, now.status)
            audits = list(
                AuditEvent.objects.filter(object_type="issues.issue", object_id=str(now.pk))
                .exclude(pk__in=before.audit)
                .values_list("action", flat=True)
            )
            assert audits == [f"issue.{event.action}"], (name, audits)
            self.check(now)

        def check(self, issue: Issue) -> None:
            assert issue.status in Status.values
            last = IssueEvent.objects.filter(issue_id=issue.pk).latest("at", "id")
            assert last.to_status == issue.status
            if issue.status in OPEN:
                assert issue.due_at is not None and issue.final_due_at is not None
                assert issue.warn_at is not None and issue.warn_at <= issue.due_at
                assert issue.due_at <= issue.final_due_at
                if issue.status in WORKING_STATES:
                    assert issue.due_at == issue.final_due_at
            else:
                assert issue.light() == ""
            assert ExtensionRequest.objects.filter(issue=issue, decision="pending").count() <= 1

    run_state_machine_as_test(
        IssueLoop,
        settings=settings(max_examples=25, stateful_step_count=15, deadline=None),
    )


@pytest.mark.parametrize("name", sorted(AFTER_CLOSING))
def test_the_model_lets_a_closed_issue_take_only_the_documented_steps(name):
    assert S.CLOSED in MODEL[name][0]
    assert {n for n, (states, _to) in MODEL.items() if S.CLOSED in states} == AFTER_CLOSING
