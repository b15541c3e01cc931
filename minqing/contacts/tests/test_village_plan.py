"""One village's plan (``services.village_plan``), step by step and pinned exactly."""

from __future__ import annotations

import pytest

from minqing.accounts.models import Role
from minqing.conftest import make_user
from minqing.contacts.models import ContactLink, LiaisonKind
from minqing.contacts.services import liaison_add, link_set, rules_for
from minqing.contacts.services.link_writer import apply_plan
from minqing.contacts.services.village_plan import (
    Matching,
    VillagePlan,
    plan_village,
    read_village,
)
from minqing.households.models import Household

GL = LiaisonKind.GROUP_LEADER
PM = LiaisonKind.PARTY_MEMBER


@pytest.fixture
def small(county):
    """王庄村: 一组 with four households (the fixture's A001 and three more), 二组 with two
    (A002 and one more); a leader in each group taking two, and A002 put with 一组's leader by
    hand. No coordinates: distances go by grid order."""
    cadre = make_user("cadre", Role.VILLAGE_CADRE, county.village_a)
    v = county.village_a
    made = {"A001": county.household_a1, "A002": county.household_a2}
    for grid, numbers in ((county.grid_a1, ("A011", "A012", "A013")), (county.grid_a2, ("A021",))):
        for number in numbers:
            made[number] = Household.objects.create(
                node=grid, village=v, number=number, head_name=f"户{number}"
            )
    one = liaison_add(by=cadre, node=county.grid_a1, kind=GL, name="甲", phone="", capacity=2)
    two = liaison_add(by=cadre, node=county.grid_a2, kind=GL, name="乙", phone="", capacity=2)
    link_set(by=cadre, household=county.household_a2, liaison=one)
    return made, one, two


def _plan(county):
    rules = {k: r for k, r in rules_for(county.county).items() if r.active}
    eligible = {kind: {t.pk for t in rule.eligible_tags.all()} for kind, rule in rules.items()}
    return plan_village(county.village_a, rules, eligible, Matching(county.county))


def test_the_read_step_sees_the_village_as_plain_rows(county, small):
    made, one, two = small
    read = read_village(county.village_a, [GL, PM])
    assert [row[0] for row in read.households] == sorted(h.pk for h in made.values())
    assert read.grid_ids.tolist() == [county.village_a.pk, county.grid_a1.pk, county.grid_a2.pk]
    manual = ContactLink.objects.get(household=county.household_a2)
    assert read.links == [(county.household_a2.pk, GL, manual.pk, one.pk, True)]
    assert [row[:3] for row in read.liaisons] == [
        (one.pk, GL, county.grid_a1.pk),
        (two.pk, GL, county.grid_a2.pk),
    ]


def test_a_small_villages_plan_is_exactly_this(county, small):
    made, one, two = small
    plan = _plan(county)
    ids = {h.pk: number for number, h in made.items()}
    added = sorted((ids[h], liaison, kind) for h, liaison, kind in plan.to_add)
    # 甲 holds A002 by hand, so takes one more (of its own group); 乙 takes its own group's
    # A021 and one of the next group's; two households of 一组 are left for lack of people,
    # and no party member takes any of the six.
    assert added == [
        ("A001", two.pk, GL),
        ("A012", one.pk, GL),
        ("A021", two.pk, GL),
    ]
    assert plan == VillagePlan(
        counts={"manual": 1, "assigned": 3, "unassigned": 8},
        shortages=[
            {
                "village": county.village_a.pk,
                "name": "王庄村",
                "kind": GL,
                "households": 2,
                "people": 1,
            },
            {
                "village": county.village_a.pk,
                "name": "王庄村",
                "kind": PM,
                "households": 6,
                "people": 1,
            },
        ],
        to_end=[],
        to_add=plan.to_add,
    )


def test_planned_again_after_writing_the_plan_keeps_everything(county, small):
    apply_plan(county.village_a, _plan(county), by=None)
    again = _plan(county)
    assert again.counts == {"manual": 1, "kept": 3, "unassigned": 8}
    assert (again.to_end, again.to_add) == ([], [])
