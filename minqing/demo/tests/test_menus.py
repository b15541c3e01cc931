"""The demo's quarterly menu and campaign: built through the services, every count consistent
with what the services keep, the leader's households left open for a person to visit."""

from __future__ import annotations

from collections import Counter

import pytest

from minqing.accounts.models import User
from minqing.demo import menu_content
from minqing.demo.builder import BuildOptions, build_county
from minqing.issues.models import Issue, Status
from minqing.menus.models import (
    Campaign,
    Checklist,
    ChecklistState,
    MenuQuestion,
    MenuVersion,
    Progress,
    RaisedIssue,
    Response,
    Task,
    VersionState,
)
from minqing.menus.services.campaigns import counted_progress, live_progress
from minqing.org.models import Level, Node

pytestmark = pytest.mark.demo


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def built(db):
    return build_county(BuildOptions(households=400, seed=11, workers=0))


def test_the_menu_comes_from_fourteen_xlsform_checklists_merged(built):
    report = built.menus
    assert report is not None and report.refused == {}
    checklists = Checklist.objects.all()
    assert checklists.count() == len(menu_content.department_codes()) == 14
    assert {c.state for c in checklists} == {ChecklistState.MERGED}
    assert all(c.source_file.endswith(".xlsx") for c in checklists)
    v1, v2 = MenuVersion.objects.order_by("number")
    assert (v1.number, v2.number, v1.state, v2.state) == (
        1,
        2,
        VersionState.PUBLISHED,
        VersionState.PUBLISHED,
    )
    assert v1.themes == list(menu_content.THEMES)
    # 41 questions written, the two insurance questions merged into one of both departments
    assert v1.questions.count() == len(menu_content.QUESTIONS) - 1 == report.questions
    merged = MenuQuestion.objects.get(version=v1, name="insured")
    assert sorted(d.code for d in merged.departments.all()) == ["health", "social"]
    assert not v1.questions.filter(name="insured_health").exists()
    water = v1.questions.get(name="water_ok")
    assert (water.issue_on, water.issue_department.code, water.issue_colour) == (
        ["no"],
        "water",
        "yellow",
    )
    assert water.issue_shared and not v1.questions.get(name="house_safe").issue_shared
    # version 2 changed the income question only
    income_1 = v1.questions.get(name="income")
    income_2 = v2.questions.get(name="income")
    assert [c[0] for c in income_1.choices] == ["up", "same", "down"]
    assert [c[0] for c in income_2.choices] == ["up_much", "up", "same", "down"]


def test_every_household_has_a_task_and_all_but_three_are_answered(built):
    report = built.menus
    campaign = Campaign.objects.get()
    county = Node.objects.get(level=Level.COUNTY)
    leader = User.objects.get(username="leader")
    tasks = Task.objects.filter(campaign=campaign)
    assert tasks.count() == report.tasks == county.household_count
    open_tasks = list(tasks.filter(outcome=""))
    assert len(open_tasks) == 3 and {t.assignee_id for t in open_tasks} == {leader.pk}
    assert Response.objects.count() == report.answered == report.tasks - 3
    outcomes = Counter(tasks.exclude(outcome="").values_list("outcome", flat=True))
    assert outcomes == Counter(report.by_outcome)
    assert set(outcomes) == {"home", "phone", "not_reached"}
    # answers keep the version they answered: both versions have answers
    by_version = Counter(Response.objects.values_list("version__number", flat=True))
    assert set(by_version) == {1, 2} and sum(by_version.values()) == report.answered
    # the live counters equal a count of the tasks
    assert live_progress(campaign) == counted_progress(campaign)
    top = Progress.objects.get(campaign=campaign, node=county)
    assert (top.total, top.done) == (report.tasks, report.tasks - 3)


def test_issues_raised_by_answers_are_in_the_loop(built):
    report = built.menus
    campaign = Campaign.objects.get()
    raised = RaisedIssue.objects.filter(campaign=campaign)
    assert raised.filter(joined=False).count() == report.issues > 0
    water = Issue.objects.filter(menu_answers__question__name="water_ok").distinct()
    assert water.exists()
    assert {i.owner_department.code for i in water} == {"water"}
    assert {i.status for i in water} == {Status.DISPATCHED}
    # one issue a village for the shared water question
    villages = Counter(
        raised.filter(question__name="water_ok", joined=False).values_list("village", flat=True)
    )
    assert set(villages.values()) == {1}
    county_row = Progress.objects.get(campaign=campaign, node__level=Level.COUNTY)
    assert county_row.issues == report.issues


# --------------------------------------------------------------------------- phones side by side


def _task(pk: int, visitor: int, village: int) -> Task:
    return Task(pk=pk, assignee_id=visitor, village_id=village, place_kind="rural")


def test_shares_keep_a_villages_visitors_together_and_balance_households():
    from minqing.demo.menus import _shares

    by_visitor = {
        1: [_task(1, 1, 10)] * 50,
        2: [_task(2, 2, 10)] * 30,  # village 10: 80 households
        3: [_task(3, 3, 20)] * 60,  # village 20: 60
        4: [_task(4, 4, 30)] * 25,
        5: [_task(5, 5, 30)] * 20,  # village 30: 45
        6: [_task(6, 6, 40)] * 10,  # village 40: 10
    }
    shares = _shares(by_visitor, 2)
    assert sorted(v for share in shares for v in share) == [1, 2, 3, 4, 5, 6]
    assert {1, 2} <= set(shares[0]) or {1, 2} <= set(shares[1])
    assert {4, 5} <= set(shares[0]) or {4, 5} <= set(shares[1])
    sizes = sorted(sum(len(by_visitor[v]) for v in share) for share in shares)
    assert sizes == [90, 105]  # largest village first into the smaller share: 80 + 10 | 60 + 45
    assert _shares({1: [_task(1, 1, 10)]}, 2) == [[1]]  # no empty share


@pytest.mark.django_db
def test_one_phone_at_a_time_on_sqlite_in_a_transaction_or_a_small_county():
    from django.db import connection

    from minqing.demo.menus import PARALLEL_FROM, sync_processes

    # Tests run inside a transaction: forked processes could not see its rows.
    assert connection.in_atomic_block
    assert sync_processes(PARALLEL_FROM * 10) == 1
    assert sync_processes(10) == 1


def test_two_phones_at_once_for_a_big_county_on_postgresql_outside_a_transaction(monkeypatch):
    from django.db import connections

    connection = connections["default"]  # the wrapper itself, not the proxy

    from minqing.demo import menus
    from minqing.demo.menus import PARALLEL_FROM, sync_processes

    monkeypatch.setattr(menus.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(connection, "vendor", "postgresql")
    monkeypatch.setattr(connection, "in_atomic_block", False)
    assert sync_processes(PARALLEL_FROM) == 2
    assert sync_processes(PARALLEL_FROM - 1) == 1  # a small county: one at a time
    monkeypatch.setattr(menus.os, "cpu_count", lambda: 1)
    assert sync_processes(PARALLEL_FROM) == 1  # one core: nothing to share
    monkeypatch.setattr(menus.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(connection, "vendor", "sqlite")
    assert sync_processes(PARALLEL_FROM) == 1  # one writer: they would only queue
