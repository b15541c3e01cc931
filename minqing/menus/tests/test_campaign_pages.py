"""The campaign pages: the start form (tasks, refusals), live progress read from the counters
(numbers, constant queries), permissions, a village's tasks and the quality signals."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from minqing.accounts.models import Role
from minqing.audit.models import AuditEvent
from minqing.conftest import make_user
from minqing.households.services import household_create
from minqing.menus.models import Campaign, CampaignState, Progress, Task
from minqing.menus.services import authoring, campaigns
from minqing.menus.services.answers import AnswerInput, Status, answers_record
from minqing.menus.views import campaigns as views
from minqing.org.models import Level
from minqing.org.services import node_create
from minqing.tests.dbstate import nothing_written

ANSWERS = {"water_ok": "yes", "insured": "yes", "health": "good", "well_depth": 20}


def _record(by, task, version, *, seconds=300, outcome="home", **answers):
    now = timezone.now()
    data = AnswerInput(
        client_uuid=uuid.uuid4(),
        task_id=task.pk,
        version_id=version.pk,
        outcome=outcome,
        finished_at=now - dt.timedelta(minutes=1),
        started_at=now - dt.timedelta(minutes=1, seconds=seconds),
        answers=(ANSWERS | answers) if outcome != "not_reached" else {},
        reason="moved_away" if outcome == "not_reached" else "",
    )
    [result] = answers_record(by=by, records=[data])
    assert result.status == Status.SAVED, result.errors
    return result


def _task(campaign, household):
    return Task.objects.get(campaign=campaign, household=household)


def _nobodys_household(menus, county, number="A003"):
    """A household of 王庄村 二组 nobody in the contact network answers for."""
    return household_create(
        by=menus.organiser,
        node=county.grid_a2,
        data={"number": number, "head_name": "王无人", "address": "二组3号", "phone": ""},
    )


def _start_form(menus, county, **kw):
    return {
        "version": str(menus.version.pk),
        "title": "",
        "starts_on": "2027-02-20",
        "ends_on": "2027-03-05",
        "scope": str(county.county.pk),
        "call_limit": "3",
        "min_seconds": "90",
        "same_answers_limit": "10",
    } | kw


def _close_fixture_campaign(menus):
    campaigns.campaign_close(by=menus.organiser, campaign=menus.campaign)


# --------------------------------------------------------------------------- start


def test_the_start_form_writes_one_task_a_household_and_nobodys_is_counted(client, menus, county):
    _close_fixture_campaign(menus)
    nobodys = _nobodys_household(menus, county)
    client.force_login(menus.organiser)
    page = client.get(reverse("menus:campaigns", args=[county.county.pk]))
    assert page.status_code == 200
    assert 'value="2027-02-22"' in page.content.decode()  # the window starts today by default
    client.cookies["django_language"] = "zh-hans"
    chinese = client.get(reverse("menus:campaigns", args=[county.county.pk])).content.decode()
    # a date input takes ISO dates only, whatever the language's date format
    assert 'value="2027-02-22"' in chinese and 'value="2027-03-07"' in chinese
    client.cookies["django_language"] = "en"
    response = client.post(
        reverse("menus:campaigns", args=[county.county.pk]), _start_form(menus, county)
    )
    campaign = Campaign.objects.get(state=CampaignState.OPEN)
    assert response.status_code == 302
    assert (
        response.url == reverse("menus:campaign", args=[campaign.pk]) + f"?node={county.county.pk}"
    )
    tasks = {t.household_id: t.assignee_id for t in Task.objects.filter(campaign=campaign)}
    assert tasks == {
        county.household_a1.pk: menus.leader.pk,
        county.household_a2.pk: menus.leader.pk,
        county.household_b1.pk: menus.leader_b.pk,
        nobodys.pk: None,
    }
    counters = {
        p.node_id: (p.total, p.unassigned) for p in Progress.objects.filter(campaign=campaign)
    }
    assert counters == {
        county.county.pk: (4, 1),
        county.town_a.pk: (3, 1),
        county.village_a.pk: (3, 1),
        county.grid_a1.pk: (1, 0),
        county.grid_a2.pk: (2, 1),
        county.town_b.pk: (1, 0),
        county.village_b.pk: (1, 0),
        county.grid_b1.pk: (1, 0),
    }
    assert (campaign.min_seconds, campaign.same_answers_limit, campaign.call_limit) == (90, 10, 3)
    assert (
        AuditEvent.objects.filter(action="menus.campaign_start", object_id=str(campaign.pk)).count()
        == 1
    )


def test_a_town_campaign_with_its_own_thresholds(client, menus, county):
    _close_fixture_campaign(menus)
    client.force_login(menus.organiser)
    response = client.post(
        reverse("menus:campaigns", args=[county.county.pk]),
        _start_form(
            menus,
            county,
            scope=str(county.town_a.pk),
            title="古井镇  春季走访",
            call_limit="5",
            min_seconds="120",
            same_answers_limit="4",
        ),
    )
    assert response.status_code == 302
    campaign = Campaign.objects.get(state=CampaignState.OPEN)
    assert (campaign.scope, campaign.title, campaign.call_limit) == (
        county.town_a,
        "古井镇 春季走访",
        5,
    )
    assert (campaign.min_seconds, campaign.same_answers_limit) == (120, 4)
    assert Task.objects.filter(campaign=campaign).count() == 2
    # the county's page lists it with its progress at the town
    page = client.get(reverse("menus:campaigns", args=[county.county.pk])).content.decode()
    assert "古井镇 春季走访" in page and "0/2" in page


@pytest.mark.parametrize(
    ("typed", "field", "message"),
    [
        (
            {"scope": "TOWN_A"},
            "scope",
            "An open campaign of this menu already covers households of this place.",
        ),
        (
            {"ends_on": "2027-02-21", "starts_on": "2027-02-10"},
            "ends_on",
            "The window is already over.",
        ),
        ({"ends_on": "2027-02-19"}, "ends_on", "The window ends before it starts."),
        ({"scope": "OTHER_COUNTY"}, "scope", "Choose a place of the menu's county."),
        (
            {"version": "DRAFT"},
            "version",
            "Only a published version can be taken to the households.",
        ),
        ({"starts_on": "20.2.2027"}, "starts_on", "Give a date like 2027-02-20."),
        ({"call_limit": "0"}, "call_limit", "Between 1 and 10 phone tries."),
        ({"min_seconds": "5"}, "min_seconds", "Between 10 and 3600 seconds."),
        ({"same_answers_limit": "2"}, "same_answers_limit", "Between 3 and 1000 households."),
    ],
)
def test_every_refusal_is_next_to_its_field_keeps_the_typing_and_writes_nothing(
    client, menus, county, typed, field, message
):
    if typed != {"scope": "TOWN_A"}:
        _close_fixture_campaign(menus)
    other = node_create(name="利辛县", level=Level.COUNTY, code="341623")
    draft = authoring.version_next(by=menus.organiser, version=menus.version)
    values = {
        "TOWN_A": str(county.town_a.pk),
        "OTHER_COUNTY": str(other.pk),
        "DRAFT": str(draft.pk),
    }
    typed = {k: values.get(v, v) for k, v in typed.items()}
    form = _start_form(menus, county, title="要留下的标题", **typed)
    client.force_login(menus.organiser)
    with nothing_written():
        response = client.post(reverse("menus:campaigns", args=[county.county.pk]), form)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert errors[field] == [message]
    assert list(errors) == [field]
    page = response.content.decode()
    assert 'value="要留下的标题"' in page
    assert f'value="{form["ends_on"]}"' in page and f'value="{form["call_limit"]}"' in page


def test_only_the_command_centre_starts_a_campaign(client, menus, county, owner):
    _close_fixture_campaign(menus)
    town_staff = make_user("town_staff", Role.TOWN_STAFF, county.town_a)
    client.force_login(town_staff)
    page = client.get(reverse("menus:campaigns", args=[county.town_a.pk]))
    assert page.status_code == 200 and page.context["form"] is None
    with nothing_written():
        response = client.post(
            reverse("menus:campaigns", args=[county.town_a.pk]),
            _start_form(menus, county, scope=str(county.town_a.pk)),
        )
    assert response.status_code == 403
    client.force_login(owner)
    assert client.get(reverse("menus:campaigns", args=[county.town_a.pk])).status_code == 403
    client.force_login(menus.water_staff)
    assert client.get(reverse("menus:campaigns", args=[county.county.pk])).status_code == 403


def test_the_scope_picker_offers_only_the_users_place(client, menus, county):
    client.force_login(menus.organiser)
    form = client.get(reverse("menus:campaigns", args=[county.town_a.pk])).context["form"]
    assert [pk for pk, _label in form.fields["scope"].choices] == [
        county.town_a.pk,
        county.village_a.pk,
    ]


# --------------------------------------------------------------------------- progress


def _progress_tuple(row):
    return (row.total, row.unassigned, row.home, row.phone, row.not_reached, row.issues)


def test_the_progress_page_shows_exactly_the_counters(client, menus, county, owner):
    _record(menus.leader, _task(menus.campaign, county.household_a1), menus.version, water_ok="no")
    _record(
        menus.leader, _task(menus.campaign, county.household_a2), menus.version, outcome="phone"
    )
    _record(
        menus.leader_b,
        _task(menus.campaign, county.household_b1),
        menus.version,
        outcome="not_reached",
    )
    client.force_login(menus.organiser)
    response = client.get(reverse("menus:campaign", args=[menus.campaign.pk]))
    assert response.status_code == 200
    stored = {
        p.node_id: (p.total, p.unassigned, p.home, p.phone, p.not_reached, p.issues)
        for p in Progress.objects.filter(campaign=menus.campaign)
    }
    assert (
        _progress_tuple(response.context["here"]) == stored[county.county.pk] == (3, 0, 1, 1, 1, 1)
    )
    children = {r.node.pk: _progress_tuple(r) for r in response.context["children"]}
    assert children == {
        county.town_a.pk: stored[county.town_a.pk],
        county.town_b.pk: stored[county.town_b.pk],
    }
    assert children[county.town_a.pk] == (2, 0, 1, 1, 0, 1)
    page = response.content.decode()
    assert '<progress class="campaign-bar" value="3" max="3"' in page
    assert "2/2" in page and "1/1" in page
    assert 'style="' not in page and "<script>" not in page
    # down to the grids of a village, for its cadre
    client.force_login(owner)
    village = client.get(
        reverse("menus:campaign", args=[menus.campaign.pk]), {"node": county.village_a.pk}
    )
    assert village.status_code == 200
    assert {(r.node.pk, r.done, r.total) for r in village.context["children"]} == {
        (county.grid_a1.pk, 1, 1),
        (county.grid_a2.pk, 1, 1),
    }
    assert [c.pk for c in village.context["crumbs"]] == [county.village_a.pk]
    assert reverse("menus:campaign_tasks", args=[menus.campaign.pk, county.village_a.pk]) in (
        village.content.decode()
    )
    client.force_login(menus.organiser)
    grid = client.get(
        reverse("menus:campaign", args=[menus.campaign.pk]), {"node": county.grid_a1.pk}
    )
    assert [c.pk for c in grid.context["crumbs"]] == [
        county.county.pk,
        county.town_a.pk,
        county.village_a.pk,
        county.grid_a1.pk,
    ]


def test_a_village_cadre_without_node_lands_on_their_village(client, menus, county, owner):
    client.force_login(owner)
    response = client.get(reverse("menus:campaign", args=[menus.campaign.pk]))
    assert response.status_code == 200
    assert response.context["node"] == county.village_a
    assert [c.pk for c in response.context["crumbs"]] == [county.village_a.pk]
    assert response.context["can_close"] is False


def test_the_progress_page_takes_the_same_queries_for_a_grid_and_the_county(client, menus, county):
    for i in range(12):
        node = (county.grid_a1, county.grid_a2, county.grid_b1)[i % 3]
        household_create(
            by=menus.organiser,
            node=node,
            data={"number": f"X{i:03d}", "head_name": f"张{i}", "address": "", "phone": ""},
        )
    _close_fixture_campaign(menus)
    campaign = campaigns.campaign_start(
        by=menus.organiser,
        version=menus.version,
        scope=county.county,
        starts_on=dt.date(2027, 2, 20),
        ends_on=dt.date(2027, 3, 5),
    )
    client.force_login(menus.organiser)
    url = reverse("menus:campaign", args=[campaign.pk])
    client.get(url, {"node": county.grid_b1.pk})  # the session and the user, once
    counts = []
    for node in (county.grid_b1, county.village_a, county.county):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, {"node": node.pk})
        assert response.status_code == 200
        counts.append(len(captured))
    assert response.context["here"].total == 15
    assert counts[0] == counts[1] == counts[2]
    progress_queries = [q for q in captured.captured_queries if "menus_progress" in q["sql"]]
    assert len(progress_queries) == 1  # the node and its children in one query
    assert not [q for q in captured.captured_queries if "menus_task" in q["sql"]]
    assert not [q for q in captured.captured_queries if "menus_response" in q["sql"]]


def test_progress_refuses_other_villages_and_departments(client, menus, county, outsider):
    url = reverse("menus:campaign", args=[menus.campaign.pk])
    client.force_login(outsider)
    # another village reads as missing; the county above their own village is refused, saying why
    assert client.get(url, {"node": county.village_a.pk}).status_code == 404
    assert client.get(url, {"node": county.village_b.pk}).status_code == 200
    assert client.get(url, {"node": county.county.pk}).status_code == 403
    client.force_login(menus.water_staff)
    assert client.get(url).status_code == 403
    assert (
        client.get(
            reverse("menus:campaign_quality", args=[menus.campaign.pk]), {"node": county.county.pk}
        ).status_code
        == 403
    )
    other = node_create(name="利辛县", level=Level.COUNTY, code="341623")
    client.force_login(menus.organiser)
    assert client.get(url, {"node": other.pk}).status_code == 404


def test_closing_by_permission_only(client, menus, county, owner):
    url = reverse("menus:campaign_close", args=[menus.campaign.pk])
    client.force_login(owner)
    with nothing_written():
        assert client.post(url).status_code == 403
    client.force_login(menus.organiser)
    page = client.get(reverse("menus:campaign", args=[menus.campaign.pk])).content.decode()
    assert url in page
    assert client.post(url).status_code == 302
    menus.campaign.refresh_from_db()
    assert menus.campaign.state == CampaignState.CLOSED
    assert AuditEvent.objects.filter(action="menus.campaign_close").count() == 1
    page = client.get(reverse("menus:campaign", args=[menus.campaign.pk])).content.decode()
    assert url not in page and "Ended" in page


# --------------------------------------------------------------------------- tasks


@pytest.fixture
def village_tasks(menus, county):
    """王庄村 in a fresh campaign: A001 done at home, A002 not reached, A003 with nobody."""
    _close_fixture_campaign(menus)
    nobodys = _nobodys_household(menus, county)
    campaign = campaigns.campaign_start(
        by=menus.organiser,
        version=menus.version,
        scope=county.county,
        starts_on=dt.date(2027, 2, 20),
        ends_on=dt.date(2027, 3, 5),
    )
    _record(menus.leader, _task(campaign, county.household_a1), menus.version)
    _record(
        menus.leader, _task(campaign, county.household_a2), menus.version, outcome="not_reached"
    )
    return campaign, nobodys


def _numbers(response):
    return [r["number"] for r in response.context["rows"]]


def test_a_villages_tasks_with_nobody_listed_and_the_filters(
    client, menus, county, owner, village_tasks
):
    campaign, _nobodys = village_tasks
    client.force_login(owner)
    url = reverse("menus:campaign_tasks", args=[campaign.pk, county.village_a.pk])
    everything = client.get(url)
    assert everything.status_code == 200
    assert _numbers(everything) == ["A001", "A002", "A003"]
    page = everything.content.decode()
    assert "王**" in page and "王建国" not in page and "王无人" not in page
    assert page.count('class="nobody-row"') == 1 and "Nobody responsible" in page
    assert _numbers(client.get(url, {"show": "open"})) == ["A003"]
    assert _numbers(client.get(url, {"show": "nobody"})) == ["A003"]
    assert _numbers(client.get(url, {"show": "not_reached"})) == ["A002"]
    assert _numbers(client.get(url, {"show": "unknown"})) == ["A001", "A002", "A003"]
    grid = client.get(reverse("menus:campaign_tasks", args=[campaign.pk, county.grid_a2.pk]))
    assert _numbers(grid) == ["A002", "A003"]
    # the village's progress links its nobody count to the list
    progress = client.get(
        reverse("menus:campaign", args=[campaign.pk]), {"node": county.village_a.pk}
    ).content.decode()
    assert f"{url}?show=nobody" in progress


def test_the_tasks_come_in_pages(client, menus, county, owner, village_tasks, monkeypatch):
    campaign, _nobodys = village_tasks
    monkeypatch.setattr(views, "TASKS_PER_PAGE", 2)
    client.force_login(owner)
    url = reverse("menus:campaign_tasks", args=[campaign.pk, county.village_a.pk])
    first = client.get(url)
    assert _numbers(first) == ["A001", "A002"]
    assert "page=2" in first.content.decode()
    assert _numbers(client.get(url, {"page": "2"})) == ["A003"]


def test_tasks_refuse_other_villages_departments_and_towns(
    client, menus, county, outsider, village_tasks
):
    campaign, _nobodys = village_tasks
    url = reverse("menus:campaign_tasks", args=[campaign.pk, county.village_a.pk])
    client.force_login(outsider)
    assert client.get(url).status_code == 404  # another village: as if missing
    client.force_login(menus.water_staff)
    assert client.get(url).status_code == 403
    client.force_login(menus.organiser)
    assert (
        client.get(
            reverse("menus:campaign_tasks", args=[campaign.pk, county.town_a.pk])
        ).status_code
        == 404
    )


# --------------------------------------------------------------------------- quality


def test_the_quality_page_lists_a_too_fast_record_and_a_same_answers_visitor(
    client, menus, county, owner
):
    Campaign.objects.filter(pk=menus.campaign.pk).update(same_answers_limit=2)
    _record(menus.leader, _task(menus.campaign, county.household_a1), menus.version, seconds=30)
    _record(menus.leader, _task(menus.campaign, county.household_a2), menus.version, seconds=300)
    _record(menus.leader_b, _task(menus.campaign, county.household_b1), menus.version, seconds=40)
    client.force_login(owner)
    response = client.get(
        reverse("menus:campaign_quality", args=[menus.campaign.pk]), {"node": county.village_a.pk}
    )
    assert response.status_code == 200
    assert response.context["fast_count"] == 1
    [fast] = response.context["fast"]
    assert (fast.household_number, fast.seconds, fast.visitor_id) == ("A001", 30, menus.leader.pk)
    [same] = response.context["same"]
    assert (same["group"].visitor_id, same["group"].households) == (menus.leader.pk, 2)
    assert [r.household_number for r in same["records"]] == ["A001", "A002"]
    page = response.content.decode()
    assert (
        "Answers recorded in less than 90 seconds from the first question to the last are flagged."
        in page
    )
    assert (
        "A visitor who recorded exactly the same answers in 2 households or more is listed." in page
    )
    assert "the same answers in 2 households" in page and "1 record" in page
    assert reverse("households:detail", args=[county.household_a1.pk]) in page
    # the county sees both villages' fast records
    client.force_login(menus.organiser)
    county_page = client.get(reverse("menus:campaign_quality", args=[menus.campaign.pk]))
    assert county_page.context["fast_count"] == 2
    assert sorted(r.household_number for r in county_page.context["fast"]) == ["A001", "B001"]
    # the flagged filter of the tasks list shows the same record, and the visitor's records
    tasks_url = reverse("menus:campaign_tasks", args=[menus.campaign.pk, county.village_a.pk])
    assert f"{tasks_url}?show=flagged&amp;visitor={menus.leader.pk}" in page
    assert f"{tasks_url}?visitor={menus.leader.pk}" in page
    assert _numbers(client.get(tasks_url, {"show": "flagged"})) == ["A001"]
    assert _numbers(client.get(tasks_url, {"visitor": menus.leader.pk})) == ["A001", "A002"]
    assert _numbers(client.get(tasks_url, {"visitor": menus.leader_b.pk})) == []


def test_the_quality_page_refuses_another_village(client, menus, county, outsider):
    client.force_login(outsider)
    url = reverse("menus:campaign_quality", args=[menus.campaign.pk])
    assert client.get(url, {"node": county.village_a.pk}).status_code == 404
    assert client.get(url).context["node"] == county.village_b


# --------------------------------------------------------------------------- in the browser

SHOTS = Path(os.environ.get("MINQING_SHOTS") or "/tmp/shots/campaigns")  # noqa: S108
BROWSER_PASSWORD = "Kp7q-Xm3z-R8tw"

BROWSER_SETUP = """
import datetime as dt, json, uuid
from django.utils import timezone
from minqing.accounts.models import Role, User
from minqing.accounts.services import role_assign
from minqing.contacts.models import LiaisonKind
from minqing.contacts.services import liaison_add, link_set
from minqing.households.services import household_create
from minqing.menus.models import Task
from minqing.issues.models import Category
from minqing.menus.services import authoring, backchecks, campaigns
from minqing.menus.services.authoring import IssueRule
from minqing.menus.services.answers import AnswerInput, answers_record
from minqing.menus.spec import FIXED_CHOICES, QType, QuestionSpec
from minqing.org.models import Department, Level
from minqing.org.services import node_create

def user(name, role, node=None, department=None, full=""):
    u = User.objects.create_user(username=name, password="PASSWORD", full_name=full or name)
    role_assign(user=u, role=role, node=node, department=department)
    return u

county = node_create(name="谯城区", level=Level.COUNTY, code="341602")
organiser = user("organiser", Role.COMMAND_CENTRE, county, full="指挥中心")
water = Department.objects.create(county=county, name="区水利局", code="water")
towns = {"古井镇": ["王庄村", "李集村", "青山社区居民委员会"], "华佗镇": ["柳河村", "东风村"]}
leaders, n = {}, 0
for t, (town_name, villages) in enumerate(towns.items()):
    town = node_create(name=town_name, level=Level.TOWN, parent=county, sort_key=t)
    user(f"town{t}", Role.TOWN_STAFF, town, full=f"{town_name}干部")
    for v, village_name in enumerate(villages):
        village = node_create(name=village_name, level=Level.VILLAGE, parent=town, sort_key=v)
        for g in range(2):
            grid = node_create(name=f"{g + 1}组", level=Level.GRID, parent=village, sort_key=g)
            leader = user(f"leader{grid.pk}", Role.GROUP_LEADER, grid, full=f"组长{grid.pk}")
            liaison = liaison_add(by=organiser, node=grid, kind=LiaisonKind.GROUP_LEADER,
                                  user=leader, name=leader.full_name, phone="13800000000")
            leaders[grid.pk] = leader
            for i in range(5 + 3 * v + g):
                n += 1
                hh = household_create(by=organiser, node=grid, data={
                    "number": f"H{n:03d}", "head_name": f"王户主{n}", "phone": f"1381234{n:04d}"})
                if i % 6 != 5:  # every sixth household has nobody
                    link_set(by=organiser, household=hh, liaison=liaison)
yes_no = list(FIXED_CHOICES[QType.YES_NO])
checklist = authoring.checklist_save(by=organiser, department=water, title="水利局清单", questions=[
    QuestionSpec("water_ok", QType.YES_NO, "饮水是否正常？", theme="民生保障", choices=yes_no),
])
authoring.checklist_submit(by=organiser, checklist=checklist)
today = timezone.localdate()
menu = authoring.menu_create(by=organiser, county=county, year=today.year,
                             quarter=(today.month - 1) // 3 + 1, greeting="您好")
version = menu.versions.get()
authoring.menu_merge(by=organiser, version=version, checklists=[checklist])
water_q = version.questions.get(name="water_ok")
authoring.version_question_save(by=organiser, version=version, question=water_q,
    spec=water_q.to_spec(), departments=list(water_q.departments.all()),
    rule=IssueRule(on=["no"], category=Category.objects.get(code="drinking_water"),
                   department=water, colour="yellow"))
authoring.version_approve(by=organiser, version=version)
authoring.version_publish(by=organiser, version=version)
version.refresh_from_db()
campaign = campaigns.campaign_start(by=organiser, version=version, scope=county,
    starts_on=today, ends_on=today + dt.timedelta(days=13), title="一季度暖心走访",
    same_answers_limit=3)
now = timezone.now()
for i, task in enumerate(Task.objects.filter(campaign=campaign).order_by("pk")):
    if task.assignee_id is None or i % 5 == 4:
        continue
    outcome = ["home", "home", "phone", "not_reached"][i % 4]
    seconds = 40 if i % 10 == 1 else 420
    [result] = answers_record(by=task.assignee, records=[AnswerInput(
        client_uuid=uuid.uuid4(), task_id=task.pk, version_id=version.pk, outcome=outcome,
        started_at=now - dt.timedelta(seconds=seconds + 60),
        finished_at=now - dt.timedelta(minutes=1),
        answers={} if outcome == "not_reached" else {"water_ok": "no" if i % 7 == 0 else "yes"},
        reason="moved_away" if outcome == "not_reached" else "")])
    assert result.status == "saved", result.errors
town = county.children.get(name="古井镇")
village = town.children.get(name="王庄村")
staff = User.objects.get(username="town0")
check = backchecks.backcheck_draw(by=staff, campaign=campaign, town=town, size=6, seed=7)
first, second = check.items.order_by("pk")[:2]
backchecks.backcheck_result(by=staff, item=first, result="confirmed", note="户主说组长来过")
backchecks.backcheck_result(by=staff, item=second, result="differs", note="说没有人来过")
print(json.dumps({"campaign": campaign.pk, "county": county.pk, "town": town.pk,
                  "village": village.pk, "backcheck": check.pk}))
""".replace("PASSWORD", BROWSER_PASSWORD)


@pytest.fixture
def campaign_server(tmp_path):
    from minqing.lib.testing_live import served

    with served(tmp_path, "minqing_campaigns", BROWSER_SETUP) as live:
        yield live


@pytest.mark.browser
@pytest.mark.live
def test_the_campaign_pages_at_phone_and_desk_width(campaign_server, browser):
    """Progress, a village's households and a back-check at 360 and 1280 px, served with the
    product's CSP: no violation, no sideways scrolling on the phone."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    data, base = campaign_server.data, campaign_server.url
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.add_init_script(
        "window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + "/accounts/login/")
    page.fill("input[name=username]", "town0")
    page.fill("input[name=password]", BROWSER_PASSWORD)
    page.click("form:has(input[name=username]) button[type=submit]")
    page.wait_for_load_state()
    campaign = f"{base}/menus/campaigns/{data['campaign']}"
    pages = {
        "progress-town": f"{campaign}/?node={data['town']}",
        "progress-village": f"{campaign}/?node={data['village']}",
        "tasks-village": f"{campaign}/places/{data['village']}/tasks/",
        "quality-town": f"{campaign}/quality/?node={data['town']}",
        "backchecks-town": f"{campaign}/places/{data['town']}/backchecks/",
        "backcheck": f"{base}/menus/backchecks/{data['backcheck']}/",
    }
    for name, url in pages.items():
        for width in (1280, 360):
            page.set_viewport_size({"width": width, "height": 900 if width > 400 else 740})
            answer = page.goto(url)
            assert answer is not None and answer.status == 200, (name, answer and answer.status)
            assert "content-security-policy" in answer.headers
            page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
            scroll = page.evaluate("() => document.documentElement.scrollWidth")
            assert scroll <= width, (name, width, scroll)
    assert page.evaluate("window.__csp") == []
    context.close()
    # the command centre: the county's campaigns with the start form, and the county's progress
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.add_init_script(
        "window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + "/accounts/login/")
    page.fill("input[name=username]", "organiser")
    page.fill("input[name=password]", BROWSER_PASSWORD)
    page.click("form:has(input[name=username]) button[type=submit]")
    page.wait_for_load_state()
    for name, url in {
        "campaigns-county": f"{base}/menus/places/{data['county']}/campaigns/",
        "progress-county": f"{campaign}/",
    }.items():
        for width in (1280, 360):
            page.set_viewport_size({"width": width, "height": 900 if width > 400 else 740})
            answer = page.goto(url)
            assert answer is not None and answer.status == 200, (name, answer and answer.status)
            page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
            scroll = page.evaluate("() => document.documentElement.scrollWidth")
            assert scroll <= width, (name, width, scroll)
    assert page.evaluate("window.__csp") == []
    assert errors == []
    context.close()
