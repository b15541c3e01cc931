"""The demo's issue stories (``minqing.demo.issue_stories``) against the real services.

The stories write the rows the services would have written, by hand and in bulk. Here every
built issue is told again through ``minqing.issues.services`` — each timeline step, at its
instant (the clock pinned there), by its actor — and the two must agree: state, owner,
deadlines, timeline (actions, from/to status, order, instants, actors), reporters and replies,
revisits and late records. So the stories cannot drift from the services.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
import time_machine

from minqing.accounts.models import User
from minqing.demo.builder import BuildOptions, build_county
from minqing.households.models import Household
from minqing.issues import services
from minqing.issues.models import Issue, IssueEvent, Status
from minqing.issues.services.handling import LevelConfirmationNeeded
from minqing.org.models import Department, Node

#: Monday 2026-11-23 15:00 China time: deadlines stay inside announced years.
NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))

#: Built by the registration of a green issue (solved on the spot), not steps of their own.
ON_THE_SPOT = ("resolve", "revisit", "close")
#: The columns the story sets, compared one by one.
COLUMNS = (
    "status",
    "level",
    "colour",
    "complexity",
    "source",
    "node_id",
    "village_id",
    "town_id",
    "node_path",
    "household_id",
    "category_id",
    "title",
    "description",
    "owner_node_id",
    "owner_department_id",
    "responsible_id",
    "offered",
    "created_by_id",
    "created_at",
    "updated_at",
    "stage_started_at",
    "due_at",
    "final_due_at",
    "warn_at",
    "warned",
    "deadline_estimated",
    "escalations",
    "resolution",
    "resolved_at",
    "closed_at",
    "version",
)


@pytest.fixture
def built(db):
    with time_machine.travel(NOW, tick=False):
        # the stories alone: the campaign's issues are written by the services themselves
        build_county(BuildOptions(households=60, seed=11, workers=0, campaign=False))


class Replay:
    """Each built issue told again through the services, step by step in time order."""

    def __init__(self) -> None:
        self.issues = list(
            Issue.objects.order_by("pk").prefetch_related(
                "events", "reporters", "revisits", "late_records"
            )
        )
        self.again: dict[int, Issue] = {}  # built pk → the issue the services wrote
        self.users = {u.pk: u for u in User.objects.all()}
        self.departments = {d.name: d for d in Department.objects.all()}
        self.confirmed: list[tuple[int, str]] = []  # dispatches off the colour's level

    def run(self) -> None:
        steps = sorted(
            ((e.at, issue.pk, k), issue, e)
            for issue in self.issues
            for k, e in enumerate(issue.events.all())
        )
        for _key, issue, event in steps:
            with time_machine.travel(event.at, tick=False):
                self.step(issue, event)

    def unit(self, issue: Issue, label: str) -> dict[str, Any]:
        """The unit a dispatch names by its label: the issue's village, town or county, or a
        department of the county."""
        nodes = [n for n in (issue.village, issue.town) if n is not None]
        nodes.append(Node.objects.get(pk=services.county_of(issue).pk))
        found = [{"to_node": n} for n in nodes if n.name == label]
        if label in self.departments:
            found.append({"to_department": self.departments[label]})
        assert len(found) == 1, (issue.pk, label, found)
        return found[0]

    def step(self, issue: Issue, event: IssueEvent) -> None:
        by = self.users.get(event.actor_id) if event.actor_id else None
        action, data = event.action, event.data
        if action == "register":
            self.again[issue.pk] = services.issue_register(
                by=by,
                node=issue.node,
                category=issue.category,
                description=event.note,
                colour=data["colour"],
                source=data["source"],
                title=issue.title,
                complexity=issue.complexity,
                household=issue.household,
                resolution=issue.resolution if issue.colour == "green" else "",
            )
            return
        if issue.colour == "green" and action in ON_THE_SPOT or action == "merged_in":
            return  # written by the registration on the spot / by the merge
        again = Issue.objects.get(pk=self.again[issue.pk].pk)
        if action == "add_reporter":
            household = Household.objects.get(pk=data["household"])
            services.issue_add_reporter(by=by, issue=again, household=household, words=event.note)
        elif action == "dispatch":
            to = self.unit(issue, data["to"])
            try:
                services.issue_dispatch(by=by, issue=again, **to)
            except LevelConfirmationNeeded:
                self.confirmed.append((issue.pk, issue.colour))
                services.issue_dispatch(by=by, issue=again, level_confirmed=True, **to)
        elif action == "offer":
            services.issue_offer(by=by, issue=again)
        elif action == "accept":
            services.issue_accept(by=by, issue=again)
        elif action == "take":
            services.issue_take(by=by, issue=again)
        elif action == "start":
            services.issue_start(by=by, issue=again, note=event.note)
        elif action == "return":
            services.issue_return(by=by, issue=again, reason=event.note)
        elif action == "resolve":
            replies = {r.household_id: r.reply for r in issue.reporters.all()}
            waiting = again.reporters.filter(replied_at__isnull=True)
            services.issue_resolve(
                by=by,
                issue=again,
                resolution=event.note,
                replies={r.pk: replies[r.household_id] for r in waiting},
            )
        elif action in ("revisit", "reopen"):
            services.issue_revisit(
                by=by, issue=again, mode=data["mode"], result=data["result"], words=event.note
            )
        elif action == "close":
            services.issue_close(by=by, issue=again)
        elif action == "escalate":
            done = services.issue_escalate(issue=again, expected_due=again.due_at, now=event.at)
            assert done is not None, issue.pk
        elif action == "merge":
            target = self.again[issue.merged_into_id]
            services.issue_merge(by=by, source=again, target=target)
        else:
            raise AssertionError(f"no service for the story step {action!r}")


def _timeline(issue: Issue, ids: dict[int, int]) -> list[tuple[Any, ...]]:
    def plain(data: dict[str, Any]) -> dict[str, Any]:
        # ids of issues: the built ones and those the services wrote
        return {k: ids.get(v, v) if k in ("into", "from") else v for k, v in data.items()}

    return [
        (e.at, e.actor_id, e.action, e.from_status, e.to_status, e.note, plain(e.data))
        for e in issue.events.order_by("at", "pk")
    ]


def _reporters(issue: Issue) -> list[tuple[Any, ...]]:
    return sorted(
        (r.household_id, r.name, r.phone_hash, r.words, r.reported_at, r.reply, r.replied_at,
         r.replied_by_id)
        for r in issue.reporters.all()
    )  # fmt: skip


def _revisits(issue: Issue) -> list[tuple[Any, ...]]:
    return [
        (r.by_id, r.at, r.mode, r.result, r.words, r.sampled)
        for r in issue.revisits.order_by("at", "pk")
    ]


def _late(issue: Issue) -> list[tuple[Any, ...]]:
    return [
        (r.level, r.unit_node_id, r.unit_department_id, r.due_at, r.recorded_at)
        for r in issue.late_records.order_by("due_at")
    ]


def test_every_story_is_what_the_services_write(built):
    replay = Replay()
    replay.run()
    built_ids = {again.pk: pk for pk, again in replay.again.items()}
    differences: list[str] = []
    stories: Counter[tuple[str, ...]] = Counter()
    for issue in replay.issues:
        again = Issue.objects.get(pk=replay.again[issue.pk].pk)
        stories[tuple(e.action for e in issue.events.all())] += 1
        for column in COLUMNS:
            told, written = getattr(issue, column), getattr(again, column)
            if told != written:
                differences.append(
                    f"issue {issue.pk} {column}: story {told!r}, services {written!r}"
                )
        merged = built_ids.get(again.merged_into_id, again.merged_into_id)
        if issue.merged_into_id != merged:
            differences.append(f"issue {issue.pk} merged_into: {issue.merged_into_id} ≠ {merged}")
        for name, read in (
            ("timeline", lambda i: _timeline(i, built_ids)),
            ("reporters", _reporters),
            ("revisits", _revisits),
            ("late records", _late),
        ):
            told, written = read(issue), read(again)
            if told != written:
                differences.append(
                    f"issue {issue.pk} {name}:\n  story    {told}\n  services {written}"
                )
    assert not differences, "\n".join(differences)
    # Every story of the demo was told again (the build tells at least one of each).
    statuses = {i.status for i in replay.issues}
    assert statuses == set(Status.values)
    actions = {a for shape in stories for a in shape}
    assert actions >= {"register", "add_reporter", "dispatch", "offer", "take", "accept"}
    assert actions >= {"start", "return", "resolve", "revisit", "reopen", "close", "escalate"}
    assert actions >= {"merge", "merged_in"}
