"""The demo county's contact network: a group leader for every grid and party members who link
households (党员联户), chosen among the generated residents, then the assignment engine.

- Group leader (城乡居民组长): in each grid, one per 120 households (a building leader, 楼栋长,
  in a big urban grid): the heads of the first households whose head is 25–65 and lives at
  home. In the demo village's first grid the demo login ``leader`` is the leader.
- Party members: residents who are CPC members, 18–75, spread over the village's grids in turn,
  one per 27 households of the village (≈20,000 at 谯城区 scale, docs/DOMAIN.md §2), each at most 40
  households (the default rule). Category: works away → 流动党员, under 35 → 年轻党员, the first
  two of the village → 两委党员, else 无职党员.
- Then ``contacts.services.assign`` over the county, as a cadre would press "run" (its run is
  the benchmark's "full assignment").
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from minqing.accounts.models import User
from minqing.audit.services import audit_record
from minqing.contacts.models import AssignmentRun, Liaison, LiaisonCategory, LiaisonKind
from minqing.contacts.services import assign, rules_for
from minqing.households.models import Politics, Relation, Resident
from minqing.lib.fields import plain
from minqing.org.models import Level, Node

HOUSEHOLDS_PER_LEADER = 120
HOUSEHOLDS_PER_PARTY_MEMBER = 27
COMMITTEE_PER_VILLAGE = 2


@dataclass
class NetworkReport:
    group_leaders: int = 0
    party_members: int = 0
    seconds_people: float = 0.0
    run: AssignmentRun | None = None


def _age(born: dt.date | None, today: dt.date) -> int:
    if born is None:
        return 40
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def build_network(county: Node, *, demo_grid_id: int | None = None) -> NetworkReport:
    """Make the liaisons (idempotent: a county that has some is left as it is) and assign."""
    import time

    report = NetworkReport()
    started = time.perf_counter()
    if Liaison.objects.filter(village__path__startswith=county.path).exists():
        report.run = assign(node=county, by=None)
        return report
    rules_for(county)
    today = timezone.localdate()
    leader = User.objects.filter(username="leader").first()
    grids = dict(
        Node.objects.filter(path__startswith=county.path, level=Level.GRID).values_list(
            "pk", "path"
        )
    )
    villages = set(
        Node.objects.filter(path__startswith=county.path, level=Level.VILLAGE).values_list(
            "pk", flat=True
        )
    )
    village_of = {
        pk: next(int(a) for a in path.strip("/").split("/") if int(a) in villages)
        for pk, path in grids.items()
    }
    liaisons: list[Liaison] = []
    # Group leaders: a head of household per 120 households of the grid (a big urban grid has a
    # leader per building, 楼栋长).
    sizes = dict(Node.objects.filter(pk__in=list(grids)).values_list("pk", "household_count"))
    chosen: dict[int, list[tuple]] = defaultdict(list)
    heads = (
        Resident.objects.filter(
            relation=Relation.HEAD,
            works_away=False,
            household__village__path__startswith=county.path,
        )
        .order_by("household__node_id", "household__number")
        .values_list(
            "household__node_id",
            "id",
            "name",
            "phone",
            "birth_date",
            "household__latitude",
            "household__longitude",
        )
    )
    for row in heads.iterator(chunk_size=20_000):
        picked = chosen[row[0]]
        if len(picked) < math.ceil(sizes[row[0]] / HOUSEHOLDS_PER_LEADER) and (
            25 <= _age(row[4], today) <= 65
        ):
            picked.append(row)
    for grid_id, rows in chosen.items():
        for i, (node_id, rid, name, phone, _born, lat, lon) in enumerate(rows):
            if grid_id == demo_grid_id and leader is not None and i == 0:
                continue  # the demo login leads this grid
            liaisons.append(
                Liaison(
                    node_id=node_id,
                    village_id=village_of[node_id],
                    kind=LiaisonKind.GROUP_LEADER,
                    name=name,
                    phone=plain(phone) or None,
                    resident_id=rid,
                    latitude=lat,
                    longitude=lon,
                )
            )
    if demo_grid_id and leader is not None:
        liaisons.append(
            Liaison(
                node_id=demo_grid_id,
                village_id=village_of[demo_grid_id],
                kind=LiaisonKind.GROUP_LEADER,
                name=str(leader),
                phone=plain(leader.phone) or None,
                user=leader,
            )
        )
    report.group_leaders = len(liaisons)
    # Party members: spread over each village's grids.
    households: defaultdict[int, int] = defaultdict(int)
    for node_id, n in Node.objects.filter(pk__in=list(grids)).values_list("pk", "household_count"):
        households[village_of[node_id]] += n
    by_village: dict[int, dict[int, list[tuple]]] = defaultdict(lambda: defaultdict(list))
    members = (
        Resident.objects.filter(
            politics=Politics.PARTY, household__village__path__startswith=county.path
        )
        .order_by("household__node_id", "id")
        .values_list(
            "household__node_id",
            "id",
            "name",
            "phone",
            "birth_date",
            "works_away",
            "household__latitude",
            "household__longitude",
        )
    )
    for member in members.iterator(chunk_size=20_000):
        if 18 <= _age(member[4], today) <= 75:
            by_village[village_of[member[0]]][member[0]].append(member)
    for village_id, per_grid in by_village.items():
        wanted = math.ceil(households[village_id] / HOUSEHOLDS_PER_PARTY_MEMBER)
        queues = [list(rows) for _grid, rows in sorted(per_grid.items())]
        taken = 0
        while taken < wanted and any(queues):
            for queue in queues:
                if not queue or taken >= wanted:
                    continue
                node_id, rid, name, phone, born, away, lat, lon = queue.pop(0)
                if taken < COMMITTEE_PER_VILLAGE and not away:
                    category = LiaisonCategory.COMMITTEE
                elif away:
                    category = LiaisonCategory.MOBILE
                elif _age(born, today) < 35:
                    category = LiaisonCategory.YOUNG
                else:
                    category = LiaisonCategory.ORDINARY
                liaisons.append(
                    Liaison(
                        node_id=node_id,
                        village_id=village_id,
                        kind=LiaisonKind.PARTY_MEMBER,
                        category=category,
                        name=name,
                        phone=plain(phone) or None,
                        resident_id=rid,
                        latitude=lat,
                        longitude=lon,
                    )
                )
                taken += 1
        report.party_members += taken
    with transaction.atomic():
        Liaison.objects.bulk_create(liaisons, batch_size=2000)
        audit_record(
            action="demo.contacts",
            object_type="org.node",
            object_id=str(county.pk),
            username="minqing demo",
            detail={"group_leaders": report.group_leaders, "party_members": report.party_members},
        )
    report.seconds_people = time.perf_counter() - started
    report.run = assign(node=county, by=None)
    return report


def demo_summary(report: NetworkReport) -> dict[str, Any]:
    result = report.run.result if report.run else {}
    return {
        "group_leaders": report.group_leaders,
        "party_members": report.party_members,
        "links": result.get("assigned", 0),
        "shortages": len(result.get("shortages", [])),
        "seconds": result.get("seconds"),
    }
