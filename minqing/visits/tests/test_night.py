"""民情夜访: the 1+2+N team and the evening slot are checked, targets are chosen by tag and open
problems within what the slot holds, stops go in a short visiting order, visits are recorded
against the plan, and the monthly service day makes next month's session once."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from minqing.accounts.models import Role
from minqing.audit.models import AuditEvent
from minqing.conftest import make_user
from minqing.households.models import Household, HouseholdTag
from minqing.issues.models import Category
from minqing.issues.services import issue_register
from minqing.lib.errors import PermissionDenied
from minqing.notifications.models import Notification
from minqing.visits import jobs
from minqing.visits.models import MONTHLY_FIRST_MONDAY, NightVisitPlan, NightVisitStop, Visit
from minqing.visits.services import night_route
from minqing.visits.services.night import NightInput, night_plan_create, service_day

TODAY = dt.date(2026, 9, 1)


@pytest.fixture
def team(county, owner):
    return {
        "leader": make_user("town_leader", Role.TOWN_STAFF, county.town_a),
        "duty1": make_user("duty1", Role.TOWN_STAFF, county.town_a),
        "duty2": make_user("duty2", Role.TOWN_STAFF, county.town_a),
        "cadre": owner,
        "stranger": make_user("other_town", Role.TOWN_STAFF, county.town_b),
    }


def tagged(county, code="elderly_alone"):
    tag = HouseholdTag.objects.get(code=code)
    for h in (county.household_a1, county.household_a2):
        h.tags.add(tag)
    return tag


def plan_input(team, **kw):
    base = {
        "title": "九月民情夜访",
        "on": dt.date(2026, 9, 7),
        "starts": dt.time(19, 0),
        "ends": dt.time(21, 30),
        "leader_id": team["leader"].pk,
        "duty_ids": [team["duty1"].pk, team["duty2"].pk],
        "team_ids": [team["cadre"].pk],
        "tag_codes": ["elderly_alone"],
        "with_open_issues": False,
    }
    return NightInput(**(base | kw))


def create(county, team, **kw):
    return night_plan_create(
        by=team["leader"], village=county.village_a, data=plan_input(team, **kw), today=TODAY
    )


def errors_of(county, team, **kw):
    with pytest.raises(ValidationError) as info:
        create(county, team, **kw)
    return info.value.message_dict


def test_a_plan_with_its_team_and_stops(county, team):
    tagged(county)
    plan = create(county, team)

    assert (plan.town, plan.village, plan.leader) == (
        county.town_a,
        county.village_a,
        team["leader"],
    )
    assert set(plan.duty.all()) == {team["duty1"], team["duty2"]}
    assert list(plan.team.all()) == [team["cadre"]]
    stops = list(plan.stops.values_list("order", "household__number", "reason"))
    assert stops == [(1, "A001", "独居老人"), (2, "A002", "独居老人")]
    notified = set(Notification.objects.values_list("recipient__username", flat=True))
    assert notified == {"duty1", "duty2", "owner"}  # the team, not the planner
    assert AuditEvent.objects.filter(action="visits.night_plan").count() == 1


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"duty_ids": []}, {"duty": ["Choose the 2: two duty cadres of the town."]}),
        (
            {"duty_ids": "one"},
            {"duty": ["Choose the 2: one more duty cadre of the town is needed."]},
        ),
        ({"leader_id": None}, {"leader": ["Choose the 1: a leader of the town."]}),
        ({"leader_id": "stranger"}, {"leader": ["The leader must be on the staff of 古井镇."]}),
        (
            {"team_ids": []},
            {"team": ["Choose the N: at least one cadre or grid worker of 王庄村."]},
        ),
        ({"team_ids": "leader"}, {"team": ["The N must work in 王庄村."]}),
        ({"duty_ids": "leader+1"}, {"team": ["Each person has one place in the team."]}),
        (
            {"starts": dt.time(14, 0)},
            {"starts": ["A night visit starts in the evening, from 17:00."]},
        ),
        ({"ends": dt.time(18, 30)}, {"ends": ["The visit must end after it starts."]}),
        ({"ends": dt.time(23, 45)}, {"ends": ["Be done by 23:00: residents go to bed."]}),
        (
            {"starts": dt.time(19, 0), "ends": dt.time(19, 10)},
            {"ends": ["Too short for one visit (about 20 minutes each)."]},
        ),
        ({"on": dt.date(2026, 8, 31)}, {"on": ["Plan for today or a later day."]}),
        (
            {"tag_codes": [], "with_open_issues": False},
            {"targets": ["Choose households by tag, by open problems, or both."]},
        ),
        (
            {"tag_codes": ["dibao"]},
            {"targets": ["No household of 王庄村 has these tags or open problems."]},
        ),
    ],
)
def test_the_team_shape_and_the_slot_are_checked_and_nothing_is_written(
    county, team, change, expected
):
    tagged(county)
    names = {"one": [team["duty1"].pk], "stranger": team["stranger"].pk}
    names["leader"] = [team["leader"].pk]
    names["leader+1"] = [team["leader"].pk, team["duty1"].pk]
    change = {k: names.get(v, v) if isinstance(v, str) else v for k, v in change.items()}
    assert errors_of(county, team, **change) == expected
    assert not NightVisitPlan.objects.exists() and not Notification.objects.exists()


def test_several_problems_are_reported_at_once(county, team):
    errors = errors_of(county, team, leader_id=None, duty_ids=[], starts=dt.time(15, 0), title="")
    assert set(errors) == {"title", "leader", "duty", "starts"}


def test_only_planners_plan(county, team):
    grid = make_user("gridder", Role.GRID_WORKER, county.village_a)
    with pytest.raises(PermissionDenied):
        night_plan_create(by=grid, village=county.village_a, data=plan_input(team), today=TODAY)
    assert not NightVisitPlan.objects.exists()


def test_targets_by_open_problems_first_and_as_many_as_the_slot_holds(county, team, owner):
    tagged(county)
    for number in ("A011", "A012", "A013"):
        Household.objects.create(
            node=county.grid_a1, village=county.village_a, number=number, head_name="王"
        ).tags.add(HouseholdTag.objects.get(code="elderly_alone"))
    issue_register(
        by=owner,
        node=county.grid_a2,
        household=county.household_a2,
        category=Category.objects.get(code="other"),
        description="院墙裂缝",
        colour="blue",
    )
    # 19:00–20:00 holds three households of 20 minutes
    plan = create(county, team, with_open_issues=True, ends=dt.time(20, 0))
    stops = {s.household.number: s.reason for s in plan.stops.select_related("household")}
    assert len(stops) == 3
    assert stops["A002"] == "1 open problems · 独居老人"  # the open problem goes first

    only_problems = create(county, team, tag_codes=[], with_open_issues=True)
    assert list(only_problems.stops.values_list("household__number", "reason")) == [
        ("A002", "1 open problems")
    ]


def test_the_visiting_order_is_the_short_route(county, team):
    tag = HouseholdTag.objects.get(code="elderly_alone")
    # five households on a street running east, numbered out of order, one without a position
    positions = {"N3": 0, "N1": 1, "N5": 2, "N2": 3, "N4": 4, "N0": None}
    for number, x in positions.items():
        h = Household.objects.create(
            node=county.grid_a1,
            village=county.village_a,
            number=number,
            head_name="户" + number,
            latitude=Decimal("33.800000") if x is not None else None,
            longitude=Decimal("115.800000") + Decimal("0.001") * x if x is not None else None,
        )
        h.tags.add(tag)

    plan = create(county, team, ends=dt.time(22, 0))

    order = list(plan.stops.order_by("order").values_list("household__number", flat=True))
    # along the street from the end that comes first by number, then the one without position
    assert order == ["N3", "N1", "N5", "N2", "N4", "N0"]


def test_the_route_does_not_zigzag(county):
    coords = [(0.0, 0.0), (0.0, 3.0), (0.0, 1.0), (0.0, 2.0), (0.001, 0.5)]
    order = night_route._open_path([(33.8 + a / 1000, 115.8 + b / 1000) for a, b in coords])
    assert order in ([0, 4, 2, 3, 1], [1, 3, 2, 4, 0])


def test_a_stop_is_recorded_as_a_night_visit_through_the_form(client, county, team):
    tagged(county)
    plan = create(county, team, on=timezone.localdate())
    duty = team["duty1"]  # not a liaison of the household: it is not in "my households"
    client.force_login(duty)

    detail = client.get(reverse("visits:night_detail", args=[plan.pk])).content.decode()
    link = f"{reverse('visits:new')}?household={county.household_a1.pk}&amp;night={plan.pk}"
    assert link in detail
    form = client.get(link.replace("&amp;", "&")).content.decode()
    assert f'name="night" value="{plan.pk}"' in form
    assert f'<option value="{county.household_a1.pk}"' in form
    assert 'value="night" checked' in form

    response = client.post(
        reverse("visits:new"),
        {
            "client_uuid": str(uuid.uuid4()),
            "household": str(county.household_a1.pk),
            "night": str(plan.pk),
            "mode": "night",
            "visited_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "notes": "夜访",
        },
    )
    assert response.status_code == 302
    visit = Visit.objects.get()
    assert (visit.night_plan, visit.mode, visit.visitor) == (plan, "night", duty)
    detail = client.get(reverse("visits:night_detail", args=[plan.pk])).content.decode()
    assert "visited" in detail and "1 / 2" in detail

    # a household that is no stop of the plan is refused, nothing saved
    response = client.post(
        reverse("visits:new"),
        {
            "client_uuid": str(uuid.uuid4()),
            "household": str(county.household_b1.pk),
            "night": str(plan.pk),
            "mode": "night",
            "visited_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 404  # and out of the duty cadre's town anyway
    Household.objects.create(
        node=county.grid_a2, village=county.village_a, number="X1", head_name="X"
    )
    other = Household.objects.get(number="X1")
    response = client.post(
        reverse("visits:new"),
        {
            "client_uuid": str(uuid.uuid4()),
            "household": str(other.pk),
            "night": str(plan.pk),
            "mode": "night",
            "visited_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 400
    assert "This household is not a stop of that night visit." in response.content.decode()
    assert Visit.objects.count() == 1


def test_the_plan_form_plans_and_keeps_input_on_error(client, county, team):
    tagged(county)
    client.force_login(team["leader"])
    url = reverse("visits:night_new", args=[county.village_a.pk])
    page = client.get(url).content.decode()
    assert "duty1" in page and "owner" in page
    form = {
        "title": "夜访",
        "on": timezone.localdate().isoformat(),
        "starts": "19:00",
        "ends": "21:30",
        "leader": str(team["leader"].pk),
        "duty": [str(team["duty1"].pk)],
        "team": [str(team["cadre"].pk)],
        "tags": ["elderly_alone"],
        "max_stops": "8",
    }
    bad = client.post(url, form)
    assert bad.status_code == 400
    html = bad.content.decode()
    assert "Choose the 2: one more duty cadre of the town is needed." in html
    assert 'value="夜访"' in html and 'value="21:30"' in html
    assert not NightVisitPlan.objects.exists()
    good = client.post(url, form | {"duty": [str(team["duty1"].pk), str(team["duty2"].pk)]})
    plan = NightVisitPlan.objects.get()
    assert good.status_code == 302 and good.url == reverse("visits:night_detail", args=[plan.pk])
    listing = client.get(reverse("visits:night_list", args=[county.town_a.pk])).content.decode()
    assert "夜访" in listing


def test_night_pages_refuse_outside_scope_and_without_the_role(client, county, team, outsider):
    tagged(county)
    plan = create(county, team)
    before = (NightVisitPlan.objects.count(), NightVisitStop.objects.count())
    client.force_login(outsider)
    for url in (
        reverse("visits:night_list", args=[county.village_a.pk]),
        reverse("visits:night_new", args=[county.village_a.pk]),
        reverse("visits:night_detail", args=[plan.pk]),
    ):
        assert client.get(url).status_code == 404, url
    assert (
        client.post(reverse("visits:night_new", args=[county.village_a.pk]), {}).status_code == 404
    )
    rep = make_user("rep", Role.REPRESENTATIVE, county.village_a)
    client.force_login(rep)
    assert client.get(reverse("visits:night_list", args=[county.village_a.pk])).status_code == 403
    assert client.get(reverse("visits:night_new", args=[county.village_a.pk])).status_code == 403
    response = client.post(reverse("visits:night_new", args=[county.village_a.pk]), {})
    assert response.status_code == 403
    assert client.get(reverse("visits:night_detail", args=[plan.pk])).status_code == 403
    assert (NightVisitPlan.objects.count(), NightVisitStop.objects.count()) == before


# --------------------------------------------------------------------------- service day


@pytest.mark.parametrize(
    ("year", "month", "day"),
    [
        (2026, 9, dt.date(2026, 9, 7)),
        (2026, 10, dt.date(2026, 10, 8)),  # Monday 5 October is in the National Day holiday
        (2026, 2, dt.date(2026, 2, 2)),
        (2025, 10, dt.date(2025, 10, 9)),  # 6–8 October 2025 are off
    ],
)
def test_the_service_day_is_the_first_monday_or_the_next_working_day(db, year, month, day):
    assert service_day(year, month) == day


def test_a_service_day_plan_must_be_on_the_service_day(county, team):
    tagged(county)
    errors = errors_of(county, team, recurrence=MONTHLY_FIRST_MONDAY, on=dt.date(2026, 9, 8))
    assert errors == {
        "on": ["The service day is the month's first Monday (or the next working day): 2026-09-07."]
    }


def test_the_job_makes_next_months_session_once(county, team):
    tagged(county)
    template = create(county, team, recurrence=MONTHLY_FIRST_MONDAY)
    assert template.series == template

    first = jobs.night_sessions(today=dt.date(2026, 9, 10))
    second = jobs.night_sessions(today=dt.date(2026, 9, 25))

    assert first == {"series": 1, "created": 1, "failed": 0}
    assert second == {"series": 1, "created": 0, "failed": 0}
    session = NightVisitPlan.objects.exclude(pk=template.pk).get()
    assert (session.on, session.series, session.recurrence) == (
        dt.date(2026, 10, 8),
        template,
        "",
    )
    assert (session.starts, session.ends, session.leader) == (
        template.starts,
        template.ends,
        template.leader,
    )
    assert set(session.duty.all()) == {team["duty1"], team["duty2"]}
    assert list(session.stops.values_list("household__number", flat=True)) == ["A001", "A002"]
    assert AuditEvent.objects.filter(action="visits.night_session").count() == 1

    jobs.night_sessions(today=dt.date(2026, 10, 20))
    days = list(NightVisitPlan.objects.order_by("on").values_list("on", flat=True))
    assert days == [dt.date(2026, 9, 7), dt.date(2026, 10, 8), dt.date(2026, 11, 2)]
