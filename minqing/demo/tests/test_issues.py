"""The demo county's issues: every state, told consistently, with real deadlines and index."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.utils import timezone

from minqing.accounts.models import User
from minqing.demo.builder import BuildOptions, build_county
from minqing.demo.issues import CO_BUILDING_UNITS, DEPARTMENTS
from minqing.issues import deadlines, similarity
from minqing.issues.models import (
    OPEN_STATES,
    Issue,
    IssueTerm,
    LateRecord,
    Status,
)
from minqing.issues.services import unit_users
from minqing.org.models import Department

#: Monday 2026-11-23 15:00 China time: deadlines stay inside announced years.
NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
#: Actions that start a new deadline stage (``deadlines.schedule``).
STAGE_ACTIONS = {"register", "dispatch", "offer", "accept", "take", "return", "reopen", "escalate"}


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def built(db, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    # the stories alone: the campaign raises issues through the services (tests/test_menus.py)
    return build_county(BuildOptions(households=60, seed=11, workers=0, campaign=False))


def test_departments_and_co_building_units(built):
    kinds = dict(Department.objects.values_list("code", "kind"))
    assert kinds == {
        **{code: Department.Kind.DEPARTMENT for _name, code in DEPARTMENTS},
        **{code: Department.Kind.CO_BUILDING for _name, code in CO_BUILDING_UNITS},
    }
    assert Department.objects.get(code="water").name == "区水利局"


def test_issues_in_every_state_with_red_lights(built):
    statuses = Counter(Issue.objects.values_list("status", flat=True))
    assert set(statuses) == set(Status.values)
    assert built.issues.issues == sum(statuses.values())
    assert built.issues.open == sum(n for s, n in statuses.items() if s in OPEN_STATES)
    lights = Counter(i.light(NOW) for i in Issue.objects.open())
    assert lights["red"] >= 2
    assert Issue.objects.filter(escalations=1).count() == LateRecord.objects.count() >= 1
    assert Issue.objects.filter(offered=True, status=Status.DISPATCHED).exists()
    assert Issue.objects.filter(owner_department__kind=Department.Kind.CO_BUILDING).exists()
    assert Issue.objects.filter(colour="green", status=Status.CLOSED).exists()


def test_timelines_match_the_status(built):
    for issue in Issue.objects.prefetch_related("events", "reporters", "revisits"):
        events = list(issue.events.all())
        assert events[0].action == "register"
        assert (events[0].from_status, events[0].to_status) == ("", Status.REGISTERED)
        for before, after in zip(events, events[1:], strict=False):
            assert after.from_status == before.to_status
            assert before.at <= after.at
        assert events[-1].to_status == issue.status
        assert issue.version == len(events)
        assert issue.created_at == events[0].at and issue.updated_at == events[-1].at <= NOW
        results = [r.result for r in issue.revisits.all()]
        if issue.status in (Status.REVISITED, Status.CLOSED):
            assert results and results[-1] in ("satisfied", "basic")
            assert issue.closed_at is not None or issue.status == Status.REVISITED
        if issue.status == Status.REOPENED:
            assert results[-1] == "unsatisfied" and issue.resolved_at is None
        if issue.status == Status.MERGED:
            assert issue.merged_into.status in OPEN_STATES
            assert events[-1].data == {"into": issue.merged_into_id}
        if issue.responsible_id is not None and issue.colour != "green":
            unit = unit_users(node=issue.owner_node, department=issue.owner_department)
            assert issue.responsible_id in {u.pk for u in unit}


def test_reporters_are_real_households_and_get_replies(built):
    for issue in Issue.objects.prefetch_related("reporters__household"):
        reporters = list(issue.reporters.all())
        if issue.status == Status.MERGED:
            assert reporters == []  # they joined the issue it was merged into
            continue
        if issue.household_id is not None:
            assert reporters[0].household_id == issue.household_id
        for r in reporters:
            assert r.household.village_id == issue.village_id
            assert r.name == r.household.head_name
            assert r.phone_hash == r.household.phone_hash
            assert issue.created_at <= r.reported_at <= NOW
            if issue.status in (Status.RESOLVED, Status.REVISITED, Status.CLOSED):
                assert r.reply and r.replied_at is not None
            if issue.status == Status.REOPENED:
                assert r.replied_at is None


def test_deadlines_follow_the_schedule(built):
    for issue in Issue.objects.open().prefetch_related("events"):
        stage_events = [e for e in issue.events.all() if e.action in STAGE_ACTIONS]
        start = stage_events[-1].at
        assert issue.stage_started_at == start
        restarted = [e.at for e in stage_events if e.action in ("register", "reopen", "escalate")]
        final = deadlines.handling_due(issue.colour, issue.complexity, restarted[-1])
        assert issue.final_due_at == final
        if issue.status in (Status.REGISTERED, Status.RETURNED, Status.DISPATCHED):
            assert issue.due_at == deadlines.stage_due(start, final)
        else:
            assert issue.due_at == final
        assert issue.warn_at == deadlines.warn_time(start, issue.due_at)
        assert not issue.warned


def test_index_holds_the_open_issues_as_index_issues_bulk_would(built):
    def rows():
        return sorted(
            IssueTerm.objects.values_list(
                "issue_id", "town_id_value", "village_id_value", "term", "count"
            )
        )

    built_rows = rows()
    assert {r[0] for r in built_rows} == set(Issue.objects.open().values_list("id", flat=True))
    assert len(built_rows) == built.issues.terms
    similarity.reindex_all()
    assert rows() == built_rows


def test_demo_logins_see_their_issues(built):
    water = User.objects.get(username="water")
    shop = User.objects.get(username="shop")
    offered = Issue.objects.filter(offered=True, status=Status.DISPATCHED)
    assert set(offered) <= set(Issue.objects.visible_to(shop))
    assert set(Issue.objects.filter(owner_department__code="water")) <= set(
        Issue.objects.visible_to(water)
    )
