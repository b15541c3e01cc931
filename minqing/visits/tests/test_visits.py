"""Recording visits: issues raised on the spot, replays and conflicts, refusals, the archive."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from minqing.accounts.models import Role
from minqing.accounts.services import api_token_issue
from minqing.audit.models import AuditEvent
from minqing.conftest import make_user
from minqing.contacts.models import LiaisonKind
from minqing.contacts.services import assign, liaison_add
from minqing.households.models import ArchiveChange, Household
from minqing.issues import selectors as issue_selectors
from minqing.issues.models import Colour, Issue, Status
from minqing.visits import selectors
from minqing.visits.models import LifeEvent, Visit, VisitTask
from minqing.visits.services import DuplicateVisit, Problem, VisitInput, visit_record


@pytest.fixture
def leader(county):
    return make_user("leader", Role.GROUP_LEADER, county.grid_a1)


def _input(household, **kw):
    base = {
        "client_uuid": uuid.uuid4(),
        "household_id": household.pk,
        "mode": "home",
        "visited_at": timezone.now() - dt.timedelta(minutes=5),
        "notes": "老人身体还好，儿子在外打工",
    }
    return VisitInput(**(base | kw))


def test_a_home_visit_raises_a_green_and_a_yellow_issue(county, leader):
    data = _input(
        county.household_a1,
        problems=[
            Problem(colour="green", description="院里灯泡坏了", resolution="当场换了灯泡"),
            Problem(
                colour="yellow", description="村东头灌溉渠堵塞，浇不上地", category="irrigation"
            ),
        ],
        materials="医保政策明白纸",
    )
    recorded = visit_record(by=leader, data=data)

    visit = recorded.visit
    assert recorded.created
    assert (visit.household, visit.visitor, visit.mode) == (county.household_a1, leader, "home")
    green, yellow = visit.issues.order_by("id")
    assert (green.colour, green.status, green.household_id) == (
        Colour.GREEN,
        Status.CLOSED,
        county.household_a1.pk,
    )
    assert green.resolution == "当场换了灯泡"
    assert (yellow.colour, yellow.status, yellow.category.code) == (
        Colour.YELLOW,
        Status.REGISTERED,
        "irrigation",
    )
    assert yellow.owner_node == county.town_a  # the town dispatches yellow issues
    board_user = make_user("townie", Role.TOWN_STAFF, county.town_a)
    columns = issue_selectors.board(board_user, node=county.town_a)
    on_board = [i.pk for column in columns for i in column.issues]
    assert yellow.pk in on_board and green.pk not in on_board
    assert AuditEvent.objects.filter(action="visit.record", object_id=str(visit.pk)).count() == 1


def test_a_replay_returns_the_saved_visit_and_changes_nothing(county, leader):
    data = _input(county.household_a1, problems=[Problem(colour="blue", description="路灯不亮")])
    first = visit_record(by=leader, data=data)
    counts = (Visit.objects.count(), Issue.objects.count(), AuditEvent.objects.count())

    again = visit_record(
        by=leader,
        data=_input(
            county.household_a1,
            **{
                "client_uuid": data.client_uuid,
                "visited_at": data.visited_at,
                "problems": [Problem(colour="blue", description="路灯不亮")],
            },
        ),
    )

    assert not again.created and again.visit.pk == first.visit.pk
    assert (Visit.objects.count(), Issue.objects.count(), AuditEvent.objects.count()) == counts


def test_the_same_id_with_other_content_is_a_conflict(county, leader):
    data = _input(county.household_a1)
    visit_record(by=leader, data=data)
    other = _input(
        county.household_a1,
        client_uuid=data.client_uuid,
        visited_at=data.visited_at,
        notes="另一份记录",
    )
    with pytest.raises(DuplicateVisit):
        visit_record(by=leader, data=other)
    assert Visit.objects.get().notes == data.notes


def test_out_of_scope_household_is_not_found_and_nothing_is_saved(county, leader):
    with pytest.raises(Household.DoesNotExist):
        visit_record(by=leader, data=_input(county.household_b1))
    assert not Visit.objects.exists()


def test_a_visit_in_the_future_is_refused(county, leader):
    with time_machine.travel(dt.datetime(2026, 12, 1, 4, 0, tzinfo=dt.UTC), tick=False):
        data = _input(county.household_a1, visited_at=timezone.now() + dt.timedelta(hours=2))
        with pytest.raises(ValidationError) as info:
            visit_record(by=leader, data=data)
    assert info.value.message_dict == {
        "visited_at": ["A visit cannot be in the future (it is 2026-12-01 12:00 now)."]
    }
    assert not Visit.objects.exists()


def test_a_green_problem_needs_what_was_done_and_nothing_is_saved_half_way(county, leader):
    data = _input(
        county.household_a1,
        problems=[
            Problem(colour="yellow", description="渠道堵塞"),
            Problem(colour="green", description="灯泡坏了"),
        ],
    )
    with pytest.raises(ValidationError) as info:
        visit_record(by=leader, data=data)
    assert info.value.message_dict == {"problems.2": ["Problem 2: say what was done on the spot."]}
    assert not Visit.objects.exists() and not Issue.objects.exists()


def test_the_visit_updates_the_family_situation_unless_someone_changed_it_since(county, leader):
    household = county.household_a1
    visit_record(
        by=leader,
        data=_input(household, situation="儿子已返乡创业", household_version=household.version),
    )
    household.refresh_from_db()
    assert household.family_situation == "儿子已返乡创业"
    change = ArchiveChange.objects.filter(household=household).first()
    assert change.actor == leader and change.changes == [["family_situation", "", "儿子已返乡创业"]]

    stale = visit_record(
        by=leader, data=_input(household, situation="又外出了", household_version=1)
    )
    household.refresh_from_db()
    assert household.family_situation == "儿子已返乡创业"  # the later edit is not overwritten
    assert not stale.archive_updated
    assert "又外出了" in stale.visit.notes  # and the visitor's words are kept on the visit


def test_a_home_visit_completes_the_households_must_visit_task(county, leader):
    event = LifeEvent.objects.create(
        household=county.household_a1,
        kind="funeral",
        occurred_on=timezone.localdate(),
        recorded_by=leader,
    )
    task = VisitTask.objects.create(
        household=county.household_a1,
        node_path=county.grid_a1.path,
        event=event,
        reason="丧事必到",
        due_on=timezone.localdate() + dt.timedelta(days=3),
    )
    visit_record(by=leader, data=_input(county.household_a1, mode="phone"))
    task.refresh_from_db()
    assert task.done_at is None  # a phone call is not "being there"
    visit_record(by=leader, data=_input(county.household_a1))
    task.refresh_from_db()
    assert task.done_at is not None


def test_my_households_lists_only_my_households_and_when_each_is_due_next(county, leader, owner):
    liaison_add(by=owner, node=county.grid_a1, kind=LiaisonKind.GROUP_LEADER, user=leader)
    liaison_add(by=owner, node=county.grid_a2, kind=LiaisonKind.GROUP_LEADER, name="别人")
    assign(node=county.village_a, by=owner)
    assert [r.id for r in selectors.my_households(leader)] == [county.household_a1.pk]

    today = timezone.localdate()
    visit_record(by=leader, data=_input(county.household_a1))
    (row,) = selectors.my_households(leader, today=today)
    assert row.last_visit == today and row.status == "fine"
    # Group leaders: one contact a month per household → due by the end of next month.
    next_month = (today.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    assert row.due_on == (next_month.replace(day=28) + dt.timedelta(days=4)).replace(
        day=1
    ) - dt.timedelta(days=1)


# --------------------------------------------------------------------------- the API


def _post(client, headers, household, **kw):
    body = {
        "client_uuid": str(uuid.uuid4()),
        "household": household.pk,
        "mode": "home",
        "visited_at": (timezone.now() - dt.timedelta(minutes=1)).isoformat(),
        "notes": "走访",
    } | kw
    return client.post("/api/v1/visits/", body, content_type="application/json", headers=headers)


def test_api_created_then_replayed_then_conflict(client, county, leader):
    headers = {"Authorization": f"Bearer {api_token_issue(user=leader)[1]}"}
    body_id = str(uuid.uuid4())
    when = (timezone.now() - dt.timedelta(minutes=1)).isoformat()
    first = _post(client, headers, county.household_a1, client_uuid=body_id, visited_at=when)
    assert first.status_code == 201 and first.json()["replay"] is False
    again = _post(client, headers, county.household_a1, client_uuid=body_id, visited_at=when)
    assert again.status_code == 200
    assert again.json() == first.json() | {"replay": True}
    clash = _post(
        client, headers, county.household_a1, client_uuid=body_id, visited_at=when, notes="别的"
    )
    assert clash.status_code == 409
    assert clash.json()["code"] == "visits.duplicate"
    assert Visit.objects.count() == 1
    assert Visit.objects.get().notes == "走访"  # the first record, not overwritten


def test_api_refuses_out_of_scope_and_bad_input(client, county, leader):
    headers = {"Authorization": f"Bearer {api_token_issue(user=leader)[1]}"}
    assert _post(client, headers, county.household_b1).status_code == 404
    with time_machine.travel(dt.datetime(2026, 12, 1, 4, 0, tzinfo=dt.UTC), tick=False):
        future = (timezone.now() + dt.timedelta(days=1)).isoformat()
        bad = _post(client, headers, county.household_a1, visited_at=future)
    assert bad.status_code == 400
    assert bad.json()["errors"] == {
        "visited_at": ["A visit cannot be in the future (it is 2026-12-01 12:00 now)."]
    }
    assert bad.json()["code"] == "visits.in_future"
    assert bad.json()["codes"] == {"visited_at": ["visits.in_future"]}
    assert not Visit.objects.exists()


def test_api_refusals_carry_their_codes_and_write_nothing(client, county, leader):
    headers = {"Authorization": f"Bearer {api_token_issue(user=leader)[1]}"}
    events = AuditEvent.objects.count()
    bad = _post(
        client,
        headers,
        county.household_a1,
        mode="flying",
        problems=[{"colour": "green", "description": "路灯坏了"}],
    )
    assert bad.status_code == 400
    assert bad.json()["codes"] == {
        "mode": ["visits.unknown_mode"],
        "problems.1": ["visits.problem_resolution"],
    }
    assert not Visit.objects.exists() and not Issue.objects.exists()
    assert AuditEvent.objects.count() == events


def test_a_visit_naming_no_household_version_leaves_the_archive_alone(county, leader):
    """No version, no write (docs/SECURITY-BAR.md §18) — the words stay on the visit."""
    household = county.household_a1
    done = visit_record(by=leader, data=_input(household, situation="儿子已返乡创业"))
    household.refresh_from_db()
    assert household.family_situation == "" and household.version == 1
    assert not done.archive_updated
    assert "儿子已返乡创业" in done.visit.notes
