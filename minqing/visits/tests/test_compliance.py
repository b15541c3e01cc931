"""Compliance with the visit quotas: exact numbers by person, grid and village, per week and
month, counting visits as visitor and as companion, home-only rules, and a constant number of
queries."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from minqing.accounts.models import Role
from minqing.conftest import make_user
from minqing.contacts.models import ContactLink, LiaisonKind
from minqing.contacts.services import liaison_add, link_set
from minqing.households.services import household_create
from minqing.visits.models import Period, QuotaRule, Visit
from minqing.visits.selectors.compliance import compliance, person_households, window_for
from minqing.visits.services import cadence

TODAY = dt.date(2026, 3, 18)  # a Wednesday: this week 16–22 March, last week 9–15 March


def at(day: str, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.fromisoformat(day).replace(hour=hour))


def visit(household, visitor, when, mode="home", companions=()):
    v = Visit.objects.create(
        client_uuid=uuid.uuid4(),
        content_hash="-",
        household=household,
        village=household.village,
        node_path=household.node.path,
        visitor=visitor,
        mode=mode,
        visited_at=when,
    )
    v.companions.set(companions)
    return v


@pytest.fixture
def net(county, owner):
    """A cadre linked to three households (two in grid 1, one in grid 2) and a group leader
    linked to the two of grid 1; both links since January."""
    h1, h3 = county.household_a1, county.household_a2
    h2 = household_create(
        by=owner, node=county.grid_a1, data={"number": "A003", "head_name": "王三"}
    )
    cadre = make_user("cadre", Role.VILLAGE_CADRE, county.village_a)
    leader = make_user("leader", Role.GROUP_LEADER, county.grid_a1)
    c = liaison_add(by=owner, node=county.village_a, kind=LiaisonKind.CADRE, user=cadre)
    g = liaison_add(by=owner, node=county.grid_a1, kind=LiaisonKind.GROUP_LEADER, user=leader)
    for h in (h1, h2, h3):
        link_set(by=owner, household=h, liaison=c)
    for h in (h1, h2):
        link_set(by=owner, household=h, liaison=g)
    ContactLink.objects.update(started_at=at("2026-01-01"))
    visit(h1, cadre, at("2026-03-17"))  # home, this week
    visit(h2, leader, at("2026-03-17", 19), mode="night", companions=[cadre])  # cadre as team
    visit(h3, cadre, at("2026-03-05"), mode="phone")  # this month, not this week
    visit(h3, cadre, at("2026-02-10"))  # home, last month
    visit(h1, leader, at("2026-02-20"), mode="wechat")  # last month
    visit(h3, owner, at("2026-03-17"))  # someone else's visit counts for nobody here
    return {"h1": h1, "h2": h2, "h3": h3, "cadre": c, "leader": g}


def row(report, liaison):
    (found,) = [p for p in report.people if p.liaison_id == liaison.pk]
    return (found.linked, found.contacted, found.required, found.done, found.overdue, found.due)


def test_windows():
    week = window_for("week", TODAY)
    assert (week.start, week.end, week.previous_start, week.current) == (
        dt.date(2026, 3, 16),
        dt.date(2026, 3, 22),
        dt.date(2026, 3, 9),
        True,
    )
    last = window_for("last-month", TODAY)
    assert (last.start, last.end, last.previous_start, last.current) == (
        dt.date(2026, 2, 1),
        dt.date(2026, 2, 28),
        dt.date(2026, 1, 1),
        False,
    )
    assert window_for("nonsense", TODAY).key == "month"


def test_this_month_counts_home_visits_as_visitor_and_companion(county, net):
    report = compliance(county.village_a, "month", today=TODAY)

    # cadre: ≥1 home visit a month per household. h1 (own visit) and h2 (on the leader's team)
    # are done; h3 had only a phone call this month, but a home visit in February: due.
    assert row(report, net["cadre"]) == (3, 2, 3, 2, 0, 1)
    # group leader: ≥1 contact a month per household. h2 done; h1 was contacted in February.
    assert row(report, net["leader"]) == (2, 1, 2, 1, 0, 1)
    grids = {g.name: (g.linked, g.required, g.done, g.percent) for g in report.grids}
    assert grids == {"一组": (4, 4, 3, 75), "二组": (1, 1, 0, 0)}
    (village,) = report.villages
    assert (village.name, village.required, village.done, village.percent) == ("王庄村", 5, 3, 60)
    assert (report.total.required, report.total.done, report.total.due) == (5, 3, 2)


def test_this_week_any_contact_and_overdue_after_a_missed_week(county, net):
    report = compliance(county.village_a, "week", today=TODAY)

    # cadre: ≥1 contact a week per household. h3 was not contacted last week nor this week.
    assert row(report, net["cadre"]) == (3, 2, 3, 2, 1, 0)
    # group leaders have no weekly quota: listed, nothing required.
    assert row(report, net["leader"]) == (2, 1, 0, 0, 0, 0)
    leader = next(p for p in report.people if p.liaison_id == net["leader"].pk)
    assert leader.rate is None


def test_last_month_is_over_so_every_miss_is_overdue(county, net):
    report = compliance(county.village_a, "last-month", today=TODAY)

    assert row(report, net["cadre"]) == (3, 1, 3, 1, 2, 0)
    assert row(report, net["leader"]) == (2, 1, 2, 1, 1, 0)


def test_a_rule_that_counts_any_contact_takes_the_phone_call(county, net):
    cadence.quotas_for(county.county)
    QuotaRule.objects.filter(kind=LiaisonKind.CADRE, period=Period.MONTH).update(home_only=False)

    report = compliance(county.village_a, "month", today=TODAY)

    assert row(report, net["cadre"]) == (3, 3, 3, 3, 0, 0)


def test_a_rule_of_different_households(county, net):
    cadence.quotas_for(county.county)
    QuotaRule.objects.create(
        county=county.county,
        kind=LiaisonKind.GROUP_LEADER,
        period=Period.WEEK,
        count=5,
        per_household=False,
    )

    report = compliance(county.village_a, "week", today=TODAY)

    # the leader reached one household this week (h2): 1 of 5
    assert row(report, net["leader"]) == (2, 1, 5, 1, 0, 0)


def test_a_grid_counts_its_own_households_only(county, net):
    report = compliance(county.grid_a2, "month", today=TODAY)

    assert row(report, net["cadre"]) == (1, 0, 1, 0, 0, 1)
    assert [p.liaison_id for p in report.people] == [net["cadre"].pk]


def test_person_list_overdue_first(county, net, owner):
    window, rules, rows = person_households(net["cadre"], owner, "week", today=TODAY)

    assert [(r.id, r.status) for r in rows] == [
        (net["h3"].pk, "overdue"),
        (net["h1"].pk, "done"),
        (net["h2"].pk, "done"),
    ]
    assert [(r.contacts, r.home_contacts) for r in rows] == [(0, 0), (1, 1), (1, 1)]
    assert rows[0].last_contact == dt.date(2026, 3, 5)
    _w, _r, month = person_households(net["cadre"], owner, "month", today=TODAY)
    assert {r.id: r.status for r in month}[net["h3"].pk] == "due"


def test_person_list_hides_households_the_viewer_cannot_see(county, net, member):
    # the grid worker of grid 1 does not see h3 (grid 2)
    _w, _r, rows = person_households(net["cadre"], member, "week", today=TODAY)
    assert {r.id for r in rows} == {net["h1"].pk, net["h2"].pk}


def test_the_report_costs_the_same_queries_for_more_data(
    county, net, owner, django_assert_num_queries
):
    compliance(county.village_a, "month", today=TODAY)  # rules written on first read
    with django_assert_num_queries(5):
        compliance(county.town_a, "month", today=TODAY)
    for i in range(30):
        visit(net["h1"], owner, at("2026-03-10") + dt.timedelta(minutes=i))
    with django_assert_num_queries(5):
        report = compliance(county.town_a, "month", today=TODAY)
    assert [v.name for v in report.villages] == ["王庄村"]
