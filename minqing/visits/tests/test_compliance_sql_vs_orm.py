"""The hand-built SQL of the quota report gives exactly the figures of the same rules written
with ORM conditional aggregation (``compliance_orm``), on a village with many people, kinds,
rules and visits (as visitor, team, both), in every window and at every level."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import uuid

import pytest
from django.utils import timezone

from minqing.accounts.models import Role
from minqing.conftest import make_user
from minqing.contacts.models import ContactLink, LiaisonKind
from minqing.contacts.services import liaison_add, link_set
from minqing.households.services import household_create
from minqing.visits.models import Mode, Period, QuotaRule, Visit
from minqing.visits.selectors import compliance as sql
from minqing.visits.services import cadence
from minqing.visits.tests import compliance_orm as orm

TODAY = dt.date(2026, 3, 18)


def _figures(report):
    def t(x):
        return (x.linked, x.contacted, x.required, x.done, x.overdue, x.due)

    return (
        [(p.liaison_id, p.name, p.kind, p.village_name, p.node_name, t(p)) for p in report.people],
        [(u.node_id, u.name, t(u)) for u in report.grids],
        [(u.node_id, u.name, t(u)) for u in report.villages],
        t(report.total),
        [r.pk for r in report.rules],
    )


@pytest.fixture
def busy(county, owner):
    rnd = random.Random(11)
    grids = [county.grid_a1, county.grid_a2] if hasattr(county, "grid_a2") else [county.grid_a1]
    homes = [county.household_a1, county.household_a2]
    for i in range(30):
        homes.append(
            household_create(
                by=owner,
                node=grids[i % len(grids)],
                data={"number": f"B{i:03d}", "head_name": f"户{i}"},
            )
        )
    kinds = [LiaisonKind.CADRE, LiaisonKind.GROUP_LEADER, LiaisonKind.REPRESENTATIVE]
    people = []
    for i in range(9):
        kind = kinds[i % 3]
        role = Role.VILLAGE_CADRE if kind == LiaisonKind.CADRE else Role.GROUP_LEADER
        user = make_user(f"p{i}", role, county.village_a)
        where = county.village_a if kind == LiaisonKind.CADRE else grids[i % len(grids)]
        people.append(liaison_add(by=owner, node=where, kind=kind, user=user))
    for h in homes:
        for li in rnd.sample(people, 3):
            try:
                link_set(by=owner, household=h, liaison=li)
            except Exception:  # noqa: BLE001, S112 - one current link per kind: skip the clash
                continue
    links = list(ContactLink.objects.all())
    for i, link in enumerate(links):
        start = "2025-12-01" if i % 4 else "2026-03-12"  # some linked only lately
        ContactLink.objects.filter(pk=link.pk).update(
            started_at=timezone.make_aware(dt.datetime.fromisoformat(start))
        )
    users = [li.user for li in people] + [owner]
    for _i in range(400):
        h = rnd.choice(homes)
        who = rnd.choice(users)
        when = timezone.make_aware(dt.datetime.fromisoformat("2026-01-25")) + dt.timedelta(
            hours=rnd.randrange(0, 24 * 60)
        )
        v = Visit.objects.create(
            client_uuid=uuid.uuid4(),
            content_hash="-",
            household=h,
            village=h.village,
            node_path=h.node.path,
            visitor=who,
            mode=rnd.choice(list(Mode.values)),
            visited_at=when,
        )
        team = rnd.sample(users, rnd.choice([0, 0, 1, 2]))
        v.companions.set(team)  # sometimes the visitor too
    # rules of both sorts, home-only and not, several per kind
    cadence.quotas_for(county.county)
    for kind in kinds:
        QuotaRule.objects.get_or_create(
            county=county.county,
            kind=kind,
            period=Period.MONTH,
            per_household=False,
            home_only=False,
            defaults={"count": 5},
        )
        QuotaRule.objects.get_or_create(
            county=county.county,
            kind=kind,
            period=Period.WEEK,
            per_household=True,
            home_only=True,
            defaults={"count": 2},
        )
    QuotaRule.objects.get_or_create(
        county=county.county,
        kind=LiaisonKind.REPRESENTATIVE,
        period=Period.MONTH,
        per_household=False,
        home_only=True,
        defaults={"count": 3},
    )
    return {"people": people}


@pytest.mark.parametrize("window", ["week", "last-week", "month", "last-month"])
def test_the_sql_report_equals_the_orm_one(county, busy, owner, window):
    for place in (county.county, county.town_a, county.village_a, county.grid_a1):
        old = sql.compliance(place, window, today=TODAY)
        new = orm.compliance(place, window, today=TODAY)
        assert _figures(new) == _figures(old), (place.name, window)
        assert sum(p.linked for p in new.people) > 0
    checked = 0
    for li in busy["people"]:
        new_rows = orm.person_households(li, owner, window, today=TODAY)
        old_rows = sql.person_households(li, owner, window, today=TODAY)
        assert dataclasses.astuple(new_rows[0]) == dataclasses.astuple(old_rows[0])
        assert [r.pk for r in new_rows[1]] == [r.pk for r in old_rows[1]]
        assert [dataclasses.astuple(r) for r in new_rows[2]] == [
            dataclasses.astuple(r) for r in old_rows[2]
        ]
        checked += len(new_rows[2])
    assert checked > 0
