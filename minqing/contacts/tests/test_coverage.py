"""The coverage report (覆盖情况): exact counts per grid and per village, loads, kinds limited
by tags, the headline, and a query count that does not grow with the place."""

from __future__ import annotations

import pytest
from django.urls import reverse

from minqing.contacts.models import AssignmentRule, ContactLink, LiaisonKind
from minqing.contacts.selectors import coverage, kind_rules, ledger_households
from minqing.contacts.services import liaison_add, link_set
from minqing.contacts.tests.test_ledger import build_network
from minqing.households.models import Household, HouseholdTag
from minqing.org.models import Level
from minqing.org.services import node_create

GL = LiaisonKind.GROUP_LEADER
PM = LiaisonKind.PARTY_MEMBER
CADRE = LiaisonKind.CADRE


@pytest.fixture
def network(county, owner):
    return build_network(county, owner)


def cell(eligible, covered, liaisons=0, low=None, avg=None, high=None):
    return {
        "eligible": eligible,
        "covered": covered,
        "missing": eligible - covered,
        "liaisons": liaisons,
        "load_min": low,
        "load_avg": avg,
        "load_max": high,
    }


def test_village_report_counts_grid_by_grid(county, network):
    report = coverage(county.village_a)
    assert report["node"] == {"id": county.village_a.pk, "name": "王庄村", "level": "village"}
    assert report["rows_are"] == "grid"
    assert report["kinds"] == [
        {"kind": GL, "label": "Residents' group leader", "tagged": False},
        {"kind": PM, "label": "Party member", "tagged": False},
    ]
    assert report["rows"] == [
        {
            "id": county.grid_a1.pk,
            "name": "一组",
            "households": 4,
            "kinds": {GL: cell(4, 4, 1, 4, 4.0, 4), PM: cell(4, 2, 1, 3, 3.0, 3)},
        },
        {
            "id": county.grid_a2.pk,
            "name": "二组",
            "households": 3,
            # 二组's party member retired: A006 counts as missing, and nobody's load is shown.
            "kinds": {GL: cell(3, 2, 1, 2, 2.0, 2), PM: cell(3, 1)},
        },
    ]
    assert report["totals"] == {GL: cell(7, 6, 2, 2, 3.0, 4), PM: cell(7, 3, 1, 3, 3.0, 3)}
    assert (report["households"], report["missing"], report["complete"]) == (7, 5, False)


def test_town_and_county_reports_count_village_by_village(
    county, network, django_assert_num_queries
):
    town = coverage(county.town_a)
    assert town["rows_are"] == "village"
    assert town["rows"] == [
        {
            "id": county.village_a.pk,
            "name": "王庄村",
            "households": 7,
            "kinds": {GL: cell(7, 6, 2, 2, 3.0, 4), PM: cell(7, 3, 1, 3, 3.0, 3)},
        }
    ]
    whole = coverage(county.county)
    assert [(r["name"], r["households"]) for r in whole["rows"]] == [("王庄村", 7), ("李集村", 1)]
    assert whole["rows"][1]["kinds"] == {GL: cell(1, 0), PM: cell(1, 0)}
    assert whole["totals"] == {GL: cell(8, 6, 2, 2, 3.0, 4), PM: cell(8, 3, 1, 3, 3.0, 3)}
    assert (whole["households"], whole["missing"]) == (8, 7)
    # The same few GROUP BY queries whatever the size: rules (2), villages, households, loads.
    with django_assert_num_queries(5):
        coverage(county.county)


def test_query_count_does_not_grow_with_households_or_grids(
    county, owner, network, django_assert_num_queries, pinned_queries
):
    with django_assert_num_queries(7) as before:
        coverage(county.village_a)
    extra = node_create(name="三组", level=Level.GRID, parent=county.village_a)
    leader = liaison_add(by=owner, node=extra, kind=GL, name="孙组长", phone="13800005555")
    for i in range(30):
        household = Household.objects.create(
            node=extra, village=county.village_a, number=f"D{i:02d}", head_name="某"
        )
        link_set(by=owner, household=household, liaison=leader)
    with django_assert_num_queries(len(before.captured_queries)):
        report = coverage(county.village_a)
    pinned_queries.pin("contacts.coverage.village", before)
    assert report["rows"][-1]["name"] == "三组"
    assert report["rows"][-1]["kinds"][GL] == cell(30, 30, 1, 30, 30.0, 30)


def test_a_kind_limited_by_tags_counts_only_those_households(county, owner, network):
    """The cadre's "1+1" pairing as a required kind for 低保户: A004 (paired) and A007 (not)."""
    rule = AssignmentRule.objects.get(county=county.county, kind=CADRE)
    rule.active = rule.required = True
    rule.save()
    dibao = HouseholdTag.objects.get(code="dibao")
    rule.eligible_tags.set([dibao])
    network.households["A004"].tags.add(dibao)
    network.households["A007"].tags.add(dibao)
    cadre = liaison_add(
        by=owner, node=county.village_a, kind=CADRE, name="周干部", phone="13700006666"
    )
    link_set(by=owner, household=network.households["A004"], liaison=cadre)
    # A pairing with a household the rule does not concern is no cover for anyone.
    ContactLink.objects.create(household=network.households["A001"], liaison=cadre, kind=CADRE)

    village = coverage(county.village_a)
    assert village["kinds"][2] == {"kind": CADRE, "label": "Cadre (1+1 pairing)", "tagged": True}
    assert [r["name"] for r in village["rows"]] == [
        "王庄村",
        "一组",
        "二组",
    ]  # the cadre sits at the village
    assert village["rows"][0]["households"] == 0
    assert village["rows"][0]["kinds"][CADRE] == cell(0, 0, 1, 2, 2.0, 2)
    assert village["rows"][1]["kinds"][CADRE] == cell(1, 1)
    assert village["rows"][2]["kinds"][CADRE] == cell(1, 0)
    assert village["totals"][CADRE] == cell(2, 1, 1, 2, 2.0, 2)
    town = coverage(county.town_a)
    assert town["rows"][0]["kinds"][CADRE] == cell(2, 1, 1, 2, 2.0, 2)
    rules = kind_rules(county.county)
    for node in (county.village_a, county.town_a, county.county):
        lacking = ledger_households(node, rules, missing=CADRE)
        assert list(lacking.values_list("number", flat=True)) == ["A007"], node.name


def test_headline_says_who_lacks_what_with_links_to_the_ledger(client, county, owner, network):
    client.force_login(owner)
    url = reverse("contacts:coverage", kwargs={"node_pk": county.village_a.pk})
    response = client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    ledger = reverse("contacts:ledger", kwargs={"node_pk": county.village_a.pk})
    assert (
        f'<a href="{ledger}?missing={GL}">1 household lacks a residents&#x27; group leader.</a>'
        in body
    )
    assert f'<a href="{ledger}?missing={PM}">4 households lack a party member.</a>' in body
    assert f"{ledger}?grid={county.grid_a2.pk}&amp;missing={PM}" in body
    assert "have their responsible people" not in body


def test_headline_when_everyone_is_covered(client, county, owner, network):
    AssignmentRule.objects.filter(county=county.county, kind=PM).update(required=False)
    client.force_login(owner)
    url = reverse("contacts:coverage", kwargs={"node_pk": county.grid_a1.pk})
    body = client.get(url).content.decode()
    assert "All 4 households have their responsible people." in body
    assert "lack" not in body
