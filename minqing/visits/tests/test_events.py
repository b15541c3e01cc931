"""三必报、四必到: events that call for a visit (a task due in working days, done by a home
visit) or a report (archive change, the village told), holiday campaigns, and refusals."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from minqing.accounts.models import Role
from minqing.audit.models import AuditEvent
from minqing.conftest import make_user
from minqing.contacts.models import LiaisonKind
from minqing.contacts.services import liaison_add, link_set
from minqing.households.models import ArchiveChange, Household, HouseholdTag
from minqing.lib.errors import PermissionDenied
from minqing.notifications.models import Notification
from minqing.visits.models import LifeEvent, VisitCampaign, VisitTask
from minqing.visits.services import VisitInput, visit_record
from minqing.visits.services.events import campaign_start, event_record, must_visit_due


@pytest.fixture
def leader(county, owner):
    """The group leader of grid 1, liaison of household A001."""
    user = make_user("leader", Role.GROUP_LEADER, county.grid_a1)
    liaison = liaison_add(by=owner, node=county.grid_a1, kind=LiaisonKind.GROUP_LEADER, user=user)
    link_set(by=owner, household=county.household_a1, liaison=liaison)
    return user


def state():
    return (
        LifeEvent.objects.count(),
        VisitTask.objects.count(),
        ArchiveChange.objects.count(),
        Notification.objects.count(),
        AuditEvent.objects.filter(action__startswith="visits.").count(),
    )


@pytest.mark.parametrize(
    ("kind", "day", "due"),
    [
        # 3 working days after 30 September 2026: 1–7 October are the National Day holiday,
        # Saturday 10 October is a make-up working day.
        ("funeral", dt.date(2026, 9, 30), dt.date(2026, 10, 10)),
        # 2 working days after a Friday: Monday and Tuesday.
        ("dispute", dt.date(2026, 3, 13), dt.date(2026, 3, 17)),
        # 1 working day after New Year's Eve 2025: 1–3 January are off, Sunday 4 January is
        # a make-up working day.
        ("disaster", dt.date(2025, 12, 31), dt.date(2026, 1, 4)),
    ],
)
def test_the_due_date_counts_working_days(db, kind, day, due):
    assert must_visit_due(kind, day) == due


def test_a_funeral_makes_one_task_and_tells_the_liaison(county, owner, leader):
    recorded = event_record(
        by=owner,
        household_id=county.household_a1.pk,
        kind="funeral",
        occurred_on=dt.date(2026, 9, 30),
        note="老人去世",
        today=dt.date(2026, 10, 1),
    )

    (task,) = VisitTask.objects.all()
    assert recorded.task == task and recorded.created
    assert (task.household, task.event, task.due_on, task.done_at) == (
        county.household_a1,
        recorded.event,
        dt.date(2026, 10, 10),
        None,
    )
    assert task.reason == "Must visit: Funeral"
    (note,) = Notification.objects.all()
    assert (note.recipient, note.kind) == (leader, "visits.must_visit")
    assert note.title == "Visit 王建国 by 2026-10-10: Funeral"
    assert not ArchiveChange.objects.filter(household=county.household_a1, changes__0__0="reason")
    assert AuditEvent.objects.filter(action="visits.event_record").count() == 1


def test_the_task_is_done_by_a_home_visit_not_a_phone_call(county, owner, leader):
    today = timezone.localdate()
    event_record(by=owner, household_id=county.household_a1.pk, kind="wedding", occurred_on=today)
    task = VisitTask.objects.get()

    def visit(mode):
        return visit_record(
            by=leader,
            data=VisitInput(
                client_uuid=uuid.uuid4(),
                household_id=county.household_a1.pk,
                mode=mode,
                visited_at=timezone.now() - dt.timedelta(minutes=1),
            ),
        )

    visit("phone")
    task.refresh_from_db()
    assert task.done_at is None
    recorded = visit("home")
    task.refresh_from_db()
    assert task.done_at == recorded.visit.visited_at


def test_a_move_is_written_into_the_archive_and_reported_to_the_village(
    county, owner, leader, member
):
    make_user("cadre2", Role.VILLAGE_CADRE, county.village_a)
    before = ArchiveChange.objects.filter(household=county.household_a1).count()

    recorded = event_record(
        by=member,
        household_id=county.household_a1.pk,
        kind="moving",
        occurred_on=dt.date(2026, 3, 2),
        note="搬到镇上儿子家",
        today=dt.date(2026, 3, 3),
    )

    assert recorded.task is None and not VisitTask.objects.exists()
    change = ArchiveChange.objects.filter(household=county.household_a1).first()
    assert ArchiveChange.objects.filter(household=county.household_a1).count() == before + 1
    assert (change.actor, change.action) == (member, "update")
    assert change.changes == [["reason", "", "Moving house (2026-03-02): 搬到镇上儿子家"]]
    notified = set(
        Notification.objects.filter(kind="visits.must_report").values_list(
            "recipient__username", flat=True
        )
    )
    assert notified == {"owner", "cadre2"}  # the village's cadres, not the liaison


def test_a_must_report_event_needs_a_note(county, owner):
    before = state()
    with pytest.raises(ValidationError) as info:
        event_record(
            by=owner,
            household_id=county.household_a1.pk,
            kind="family_change",
            occurred_on=timezone.localdate(),
        )
    assert info.value.message_dict == {"note": ["Say what changed, for the archive."]}
    assert info.value.error_dict["note"][0].code == "visits.note_required"
    assert state() == before


def test_events_in_the_future_are_refused_and_nothing_is_written(county, owner, leader):
    before = state()
    with pytest.raises(ValidationError) as info:
        event_record(
            by=owner,
            household_id=county.household_a1.pk,
            kind="wedding",
            occurred_on=timezone.localdate() + dt.timedelta(days=1),
        )
    assert info.value.message_dict == {"occurred_on": ["An event cannot be in the future."]}
    assert state() == before


def test_an_out_of_scope_household_is_not_found_and_nothing_is_written(county, outsider, owner):
    before = state()
    with pytest.raises(Household.DoesNotExist):
        event_record(
            by=outsider,
            household_id=county.household_a1.pk,
            kind="wedding",
            occurred_on=timezone.localdate(),
        )
    assert state() == before


def test_the_same_form_sent_twice_records_one_event(county, owner):
    form_id = uuid.uuid4()
    kwargs = {
        "by": owner,
        "household_id": county.household_a1.pk,
        "kind": "disaster",
        "occurred_on": timezone.localdate(),
        "client_uuid": form_id,
    }
    first = event_record(**kwargs)
    again = event_record(**kwargs)
    assert not again.created and again.event == first.event and again.task == first.task
    assert (LifeEvent.objects.count(), VisitTask.objects.count()) == (1, 1)


# --------------------------------------------------------------------------- campaigns


def _tag(household, code):
    household.tags.add(HouseholdTag.objects.get(code=code))


def test_a_holiday_campaign_gives_each_tagged_household_one_task(county, owner, leader):
    _tag(county.household_a1, "elderly_alone")
    _tag(county.household_a1, "dibao")
    _tag(county.household_a2, "dibao")
    _tag(county.household_b1, "dibao")  # another village
    due = timezone.localdate() + dt.timedelta(days=10)

    first = campaign_start(
        by=owner,
        village=county.village_a,
        title="春节走访",
        tag_codes=["elderly_alone", "dibao"],
        due_on=due,
    )
    again = campaign_start(
        by=owner,
        village=county.village_a,
        title="春节走访",
        tag_codes=["elderly_alone", "dibao"],
        due_on=due,
    )

    assert (first.created, first.households) == (2, 2)
    assert (again.created, again.households) == (0, 2)
    assert again.campaign == first.campaign and VisitCampaign.objects.count() == 1
    tasks = VisitTask.objects.order_by("household__number")
    assert [(t.household_id, t.due_on, t.reason) for t in tasks] == [
        (county.household_a1.pk, due, "Holiday visit: 春节走访"),
        (county.household_a2.pk, due, "Holiday visit: 春节走访"),
    ]
    (note,) = Notification.objects.filter(kind="visits.campaign")
    assert note.recipient == leader  # the only liaison with an account
    assert note.title == f"春节走访: visit 1 households by {due.isoformat()}"

    # a household tagged later joins the campaign on the next start, and only it
    household = Household.objects.create(
        node=county.grid_a2, village=county.village_a, number="A009", head_name="王九"
    )
    _tag(household, "elderly_alone")
    third = campaign_start(
        by=owner, village=county.village_a, title="春节走访", tag_codes=["dibao"], due_on=due
    )
    assert (third.created, third.households, VisitTask.objects.count()) == (1, 3, 3)


def test_a_campaign_is_refused_to_a_grid_worker_and_checks_its_input(county, owner, member):
    _tag(county.household_a1, "dibao")
    before = state()
    with pytest.raises(PermissionDenied):
        campaign_start(
            by=member,
            village=county.village_a,
            title="中秋走访",
            tag_codes=["dibao"],
            due_on=timezone.localdate(),
        )
    with pytest.raises(ValidationError) as info:
        campaign_start(
            by=owner,
            village=county.village_a,
            title="",
            tag_codes=[],
            due_on=timezone.localdate() - dt.timedelta(days=1),
        )
    assert info.value.message_dict == {
        "title": ["This field is required."],
        "tags": ["Choose the households to visit by their tags."],
        "due_on": ["Between today and 90 days from now."],
    }
    assert state() == before


# --------------------------------------------------------------------------- pages


def test_the_household_page_has_the_form_and_it_records(client, county, owner):
    client.force_login(owner)
    page = client.get(reverse("households:detail", args=[county.household_a1.pk]))
    html = page.content.decode()
    assert reverse("visits:event_new", args=[county.household_a1.pk]) in html
    assert 'value="enlistment"' in html and 'value="holiday"' not in html

    response = client.post(
        reverse("visits:event_new", args=[county.household_a1.pk]),
        {
            "client_uuid": str(uuid.uuid4()),
            "kind": "enlistment",
            "occurred_on": timezone.localdate().isoformat(),
            "note": "儿子参军",
        },
    )
    assert response.status_code == 302
    assert response.url.endswith("#events")
    task = VisitTask.objects.get()
    html = client.get(reverse("households:detail", args=[county.household_a1.pk])).content
    assert "Must visit: Enlistment" in html.decode()
    assert task.event.note == "儿子参军"


def test_a_form_error_keeps_the_input(client, county, owner):
    client.force_login(owner)
    response = client.post(
        reverse("visits:event_new", args=[county.household_a1.pk]),
        {"client_uuid": str(uuid.uuid4()), "kind": "moving", "occurred_on": "2999-01-01"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "An event cannot be in the future." in html and 'value="2999-01-01"' in html
    assert not LifeEvent.objects.exists()


def test_event_and_campaign_pages_refuse_outside_scope_and_without_the_role(
    client, county, outsider, member
):
    event_url = reverse("visits:event_new", args=[county.household_a1.pk])
    campaign_url = reverse("visits:campaigns", args=[county.village_a.pk])
    form = {"kind": "wedding", "occurred_on": timezone.localdate().isoformat()}
    before = state()
    client.force_login(outsider)
    assert client.get(event_url).status_code == 404
    assert client.post(event_url, form).status_code == 404
    assert client.get(campaign_url).status_code == 404
    assert client.post(campaign_url, {"title": "x", "tags": ["dibao"]}).status_code == 404
    # the grid worker sees the household but not the village node
    client.force_login(member)
    assert client.get(campaign_url).status_code == 404
    rep = make_user("rep", Role.REPRESENTATIVE, county.village_a)
    client.force_login(rep)
    assert client.get(campaign_url).status_code == 403
    due = (timezone.localdate() + dt.timedelta(days=3)).isoformat()
    post = {"title": "x", "tags": ["dibao"], "due_on": due}
    assert client.post(campaign_url, post).status_code == 403
    assert state() == before


def test_the_campaign_page_starts_and_lists(client, county, owner):
    _tag(county.household_a1, "dibao")
    client.force_login(owner)
    url = reverse("visits:campaigns", args=[county.village_a.pk])
    due = (timezone.localdate() + dt.timedelta(days=5)).isoformat()
    response = client.post(url, {"title": "端午走访", "tags": ["dibao"], "due_on": due})
    assert response.status_code == 302
    html = client.get(url).content.decode()
    assert "端午走访" in html and "0 of 1 visited" in html
    bad = client.post(url, {"title": "端午走访", "tags": [], "due_on": due})
    assert bad.status_code == 400
    assert "Choose the households to visit by their tags." in bad.content.decode()
