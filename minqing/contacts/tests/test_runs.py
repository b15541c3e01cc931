"""The assignment-run page: village and town runs inline, county runs through the worker (once,
however often the button is pressed), shortages and the "nothing could be assigned" verdict."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from minqing.accounts.models import Role
from minqing.audit.models import AuditEvent
from minqing.conftest import make_user
from minqing.contacts import jobs
from minqing.contacts.models import (
    AssignmentRule,
    AssignmentRun,
    ContactLink,
    LiaisonKind,
    RunStatus,
)
from minqing.contacts.services import assign, assign_queue, liaison_add, rules_for
from minqing.contacts.views.runs import shortage_text

GL = LiaisonKind.GROUP_LEADER
JOB = "minqing.contacts.jobs.run_assignment"


@pytest.fixture
def leaders_only(county):
    """Only group leaders are in use, one person taking at most one household."""
    rules_for(county.county)
    AssignmentRule.objects.filter(county=county.county).exclude(kind=GL).update(active=False)
    AssignmentRule.objects.filter(county=county.county, kind=GL).update(max_load=1)


@pytest.fixture
def enqueued(monkeypatch, settings):
    """Redis configured; the jobs handed to it are recorded instead."""
    calls = []
    settings.MINQING_REDIS_URL = "redis://127.0.0.1:6390/0"
    monkeypatch.setattr(
        "minqing.lib.worker.enqueue", lambda path, **kwargs: calls.append((path, kwargs))
    )
    return calls


def _start(client, node):
    return client.post(reverse("contacts:run_start", args=[node.pk]), follow=True)


def _messages(response):
    return [str(m) for m in response.context["messages"]]


def test_a_village_run_goes_inline_and_shows_its_shortage(client, county, owner, leaders_only):
    liaison_add(by=owner, node=county.grid_a1, kind=GL, name="组长", phone="13800000001")
    client.force_login(owner)

    response = _start(client, county.village_a)

    assert response.status_code == 200
    run = AssignmentRun.objects.get()
    assert (run.node_id, run.status, run.by_id) == (county.village_a.pk, RunStatus.DONE, owner.pk)
    assert run.result["assigned"] == 1 and run.result["unassigned"] == 1
    assert run.result["shortages"] == [
        {"village": county.village_a.pk, "name": "王庄村", "kind": GL, "households": 1, "people": 1}
    ]
    assert ContactLink.objects.current().count() == 1
    html = response.content.decode()
    assert "王庄村 lacks 1 group leader for 1 household" in html
    assert _messages(response) == [
        "1 household assigned. Left without a liaison: 1 — see the shortages."
    ]


def test_nothing_assignable_says_so_clearly(client, county, leaders_only):
    client.force_login(make_user("town", Role.TOWN_STAFF, county.town_a))

    response = _start(client, county.town_a)  # a town runs inline too

    run = AssignmentRun.objects.get()
    assert (run.node_id, run.status) == (county.town_a.pk, RunStatus.DONE)
    assert _messages(response) == [
        "Nothing could be assigned: no liaison can take the 2 households without one. "
        "Add liaisons or raise their capacity, then run again."
    ]
    assert "王庄村 lacks 2 group leaders for 2 households" in response.content.decode()
    assert not ContactLink.objects.exists()


def test_shortage_lines_read_as_sentences():
    line = {"village": 1, "name": "王庄村", "kind": GL, "households": 150, "people": 2}
    assert shortage_text(line) == "王庄村 lacks 2 group leaders for 150 households"
    line = {"village": 1, "name": "李集村", "kind": "party_member", "households": 1, "people": 1}
    assert shortage_text(line) == "李集村 lacks 1 party member for 1 household"


def test_a_county_run_is_enqueued_once_however_often_it_is_asked_for(
    client, county, county_user, leaders_only, enqueued
):
    liaison_add(by=county_user, node=county.grid_a1, kind=GL, name="组长", phone="13800000001")
    client.force_login(county_user)

    first = _start(client, county.county)

    run = AssignmentRun.objects.get()
    assert (run.node_id, run.status, run.by_id) == (
        county.county.pk,
        RunStatus.QUEUED,
        county_user.pk,
    )
    assert enqueued == [(JOB, {"run_id": run.pk})]
    assert not ContactLink.objects.exists()  # the request did not run it
    assert _messages(first)[0].startswith("The run is queued")
    assert 'hx-trigger="every 5s"' in first.content.decode()
    part = client.get(reverse("contacts:runs", args=[county.county.pk]), HTTP_HX_REQUEST="true")
    assert part.content.decode().startswith('<section id="runs" hx-get=')  # the list alone
    assert "Waiting for the background worker" in part.content.decode()

    second = _start(client, county.county)

    assert AssignmentRun.objects.count() == 1 and len(enqueued) == 1
    assert _messages(second) == [
        "A run of this place is already waiting or running; no second one was started."
    ]
    assert AuditEvent.objects.filter(action="contacts.assign_queue").count() == 1

    # The worker runs it; a second delivery of the same job finds nothing to do.
    assert jobs.run_assignment(run_id=run.pk) == {"ran": 1, "claimed_elsewhere": 0}
    assert jobs.run_assignment(run_id=run.pk) == {"ran": 0, "claimed_elsewhere": 1}
    run.refresh_from_db()
    assert run.status == RunStatus.DONE and run.result["assigned"] == 1
    assert ContactLink.objects.current().count() == 1
    page = client.get(reverse("contacts:runs", args=[county.county.pk]))
    assert "王庄村 lacks 1 group leader for 1 household" in page.content.decode()
    assert 'hx-trigger="every 5s"' not in page.content.decode()

    _start(client, county.county)  # once done, a new run may be asked for
    assert AssignmentRun.objects.filter(status=RunStatus.QUEUED).count() == 1
    assert len(enqueued) == 2


def test_without_redis_the_periodic_job_runs_what_waits(client, county, county_user, settings):
    settings.MINQING_REDIS_URL = ""
    client.force_login(county_user)
    _start(client, county.county)
    run = AssignmentRun.objects.get()
    assert run.status == RunStatus.QUEUED

    counts = jobs.run_queued()

    assert counts == {"ran": 1, "claimed_elsewhere": 0, "failed": 0, "abandoned": 0}
    run.refresh_from_db()
    assert run.status == RunStatus.DONE
    assert jobs.run_queued()["ran"] == 0


def test_a_run_whose_worker_died_is_failed_and_the_place_can_run_again(county, county_user):
    dead = AssignmentRun.objects.create(
        node=county.county,
        status=RunStatus.RUNNING,
        started_at=timezone.now() - dt.timedelta(hours=4),
    )
    assert jobs.run_queued()["abandoned"] == 1
    dead.refresh_from_db()
    assert dead.status == RunStatus.FAILED and dead.result == {"error": "abandoned"}


def test_a_second_inline_run_of_a_busy_village_is_refused(client, county, owner):
    AssignmentRun.objects.create(node=county.village_a, status=RunStatus.RUNNING)
    client.force_login(owner)

    response = _start(client, county.village_a)

    assert _messages(response) == [
        "An assignment run of this place is under way already; wait for it to finish."
    ]
    assert AssignmentRun.objects.count() == 1


def test_a_failing_run_is_marked_failed(county, owner, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("solver exploded")

    monkeypatch.setattr("minqing.contacts.engine.solve", boom)  # deep inside the plan
    with pytest.raises(RuntimeError):
        assign(node=county.village_a, by=owner)
    run = AssignmentRun.objects.get()
    assert run.status == RunStatus.FAILED and run.result["error"] == "RuntimeError"
    assert not AssignmentRun.objects.filter(status__in=["queued", "running"]).exists()


def test_who_may_start_a_run(client, county, owner, outsider, member):
    rep = make_user("rep", Role.REPRESENTATIVE, county.village_a)
    town = make_user("town", Role.TOWN_STAFF, county.town_a)
    url = reverse("contacts:run_start", args=[county.village_a.pk])

    client.force_login(outsider)
    assert client.post(url).status_code == 404
    assert client.get(reverse("contacts:runs", args=[county.village_a.pk])).status_code == 404
    client.force_login(member)  # sees 一组 only
    assert client.post(url).status_code == 404
    client.force_login(rep)
    assert client.post(url).status_code == 403
    assert client.get(reverse("contacts:runs", args=[county.village_a.pk])).status_code == 200
    client.force_login(owner)  # a village cadre may not run the whole county
    assert client.post(reverse("contacts:run_start", args=[county.town_a.pk])).status_code == 404
    client.force_login(town)
    assert client.post(reverse("contacts:run_start", args=[county.county.pk])).status_code == 404
    assert not AssignmentRun.objects.exists()
    assert client.post(url).status_code == 302  # the town runs its villages
    assert AssignmentRun.objects.get().node_id == county.village_a.pk


def test_the_database_refuses_a_second_active_run_of_a_place(county):
    AssignmentRun.objects.create(node=county.county, status=RunStatus.QUEUED)
    with pytest.raises(IntegrityError), transaction.atomic():
        AssignmentRun.objects.create(node=county.county, status=RunStatus.RUNNING)
    AssignmentRun.objects.create(node=county.county, status=RunStatus.DONE)  # history is fine
    assert AssignmentRun.objects.count() == 2


def test_a_click_that_loses_the_race_gets_the_winners_run(county, county_user, monkeypatch):
    """Where there is no row lock to wait on (SQLite), the constraint decides."""
    winner = []

    def other_click_commits_first(**kwargs):
        winner.append(AssignmentRun.objects.create(node=county.county, status=RunStatus.QUEUED))
        raise IntegrityError("assignment_run_one_active")

    monkeypatch.setattr("minqing.contacts.services.assignment._queue", other_click_commits_first)
    run, started = assign_queue(node=county.county, by=county_user)
    assert (run.pk, started) == (winner[0].pk, False)
    assert AssignmentRun.objects.count() == 1
