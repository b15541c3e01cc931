"""覆盖情况 — the coverage report: who lacks a responsible person, village by village (grid by
grid at or below a village), with the liaisons' loads.

Functions here take a node the caller has already checked against the user's scope.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, Func, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce

from minqing.contacts.models import ContactLink, Liaison, LiaisonKind
from minqing.contacts.selectors.network import (
    ABOVE_VILLAGE,
    KindRule,
    covered_q,
    eligible_q,
    household_scope_q,
    kind_rules,
)
from minqing.households.models import Household
from minqing.org.models import Level, Node, subtree_q

#: Kinds whose current links always join a household and a liaison of one village: the engine
#: works village by village, ``link_set`` refuses other villages (cadres' "1+1" pairing aside),
#: ``liaison_update`` and household moves stay within the village.
SAME_VILLAGE_KINDS = frozenset(LiaisonKind.values) - {LiaisonKind.CADRE}


def _row_nodes(node: Node) -> tuple[bool, list[Node]]:
    """Whether the rows are villages, and the candidate row nodes in tree order."""
    if node.level in ABOVE_VILLAGE:
        villages = Node.objects.filter(subtree_q(node.path), level=Level.VILLAGE)
        return True, list(villages.order_by("path").only("id", "name", "path", "level"))
    subtree = Node.objects.subtree(node).order_by("path").only("id", "name", "path", "level")
    return False, list(subtree)


def _row_name(group: Node, node: Node, names: dict[int, str]) -> str:
    """Below a village, the path under the report's node ("一片/一组")."""
    if group.pk == node.pk:
        return group.name
    ids = [int(p) for p in group.path.strip("/").split("/") if p]
    below = ids[ids.index(node.pk) + 1 :] if node.pk in ids else [group.pk]
    return "/".join(names.get(i, "") for i in below)


@dataclass
class _Loads:
    """The loads of one kind's liaisons in one row."""

    count: int = 0
    total: int = 0
    low: int | None = None
    high: int | None = None

    def add(self, load: int) -> None:
        self.count += 1
        self.total += load
        self.low = load if self.low is None else min(self.low, load)
        self.high = load if self.high is None else max(self.high, load)

    def merge(self, other: _Loads) -> None:
        if other.count:
            self.count += other.count
            self.total += other.total
            self.low = other.low if self.low is None else min(self.low, other.low or 0)
            self.high = other.high if self.high is None else max(self.high, other.high or 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "liaisons": self.count,
            "load_min": self.low,
            "load_avg": round(self.total / self.count, 1) if self.count else None,
            "load_max": self.high,
        }


def coverage(node: Node, rules: Sequence[KindRule] | None = None) -> dict[str, Any]:
    """覆盖情况 — per village (per group/grid at or below a village) and per required active
    kind: households, how many are covered and missing, and the liaisons' loads.

    A fixed number of GROUP BY queries, whatever the size of the place: households per row; the
    active liaisons with their number of current households (their loads, and — above a
    village, for the kinds in ``SAME_VILLAGE_KINDS`` — the covered households of their village:
    an index-only count); covered households per row counted on the households' side below a
    village and for the other kinds; eligible households per row for kinds limited by tags.
    Returns plain data (ints, floats, strings, lists, dicts)::

        {
            "node": {"id": 1, "name": "谯城区", "level": "county"},
            "rows_are": "village",              # or "grid" at or below a village
            "kinds": [{"kind": "group_leader", "label": "Residents' group leader",
                       "tagged": False}, ...],  # the required active kinds, in kind order
            "households": 530000,
            "missing": 120,                     # the kinds' missing households, added up
            "complete": False,                  # True when nothing is missing for any kind
            "rows": [{"id": 7, "name": "王庄村", "households": 2000,
                      "kinds": {"group_leader": {"eligible": 2000, "covered": 1990,
                                                 "missing": 10, "liaisons": 20, "load_min": 90,
                                                 "load_avg": 99.5, "load_max": 120}, ...}},
                     ...],
            "totals": {"group_leader": {same keys as a row's kind}, ...},
        }

    ``eligible`` is how many households the kind concerns (all of them unless its rule names
    tags); ``missing = eligible - covered``. ``liaisons`` counts the kind's active liaisons who
    belong to the row (their village; below a village, their group/grid); ``load_*`` are their
    numbers of current households (``None`` without liaisons), the average to one decimal.
    Below a village, rows are the grids plus any other place holding households or liaisons.
    """
    rules = [r for r in (kind_rules(node) if rules is None else rules) if r.required]
    by_village, candidates = _row_nodes(node)
    key = "village_id" if by_village else "node_id"
    households = Household.objects.filter(household_scope_q(node)).order_by()

    count_by_row: dict[int, int] = {
        row[key]: row["n"] for row in households.values(key).annotate(n=Count("id"))
    }

    # The liaisons and their loads: one correlated index-only count per liaison.
    loads: dict[tuple[int, str], _Loads] = defaultdict(_Loads)
    if rules:
        # COUNT without GROUP BY: one index-only range count per liaison (link_current_liaison).
        load = (
            ContactLink.objects.filter(liaison=OuterRef("pk"), ended_at__isnull=True)
            .order_by()
            .annotate(n=Func(F("id"), function="COUNT"))
            .values("n")
        )
        people = Liaison.objects.filter(active=True, kind__in=[r.kind for r in rules])
        if by_village:
            people = people.filter(village_id__in=[v.pk for v in candidates])
        else:
            people = people.filter(subtree_q(node.path, "node__path"))
        for group, kind, n in (
            people.annotate(load=Coalesce(Subquery(load, output_field=IntegerField()), 0))
            .order_by()
            .values_list(key, "kind", "load")
        ):
            loads[(group, kind)].add(n)

    eligible: dict[str, dict[int, int]] = {}
    covered: dict[str, dict[int, int]] = {}
    by_households = []
    for rule in rules:
        if rule.tags:
            concerned = households.filter(eligible_q(rule, OuterRef("pk")))
            eligible[rule.kind] = {
                row[key]: row["n"] for row in concerned.values(key).annotate(n=Count("id"))
            }
            covered[rule.kind] = {
                row[key]: row["n"]
                for row in concerned.filter(covered_q(rule)).values(key).annotate(n=Count("id"))
            }
            continue
        eligible[rule.kind] = count_by_row
        if by_village and rule.kind in SAME_VILLAGE_KINDS:
            covered[rule.kind] = {g: v.total for (g, k), v in loads.items() if k == rule.kind}
        else:
            by_households.append(rule.kind)
            covered[rule.kind] = {}
    if by_households:
        for row in (
            ContactLink.objects.filter(
                household_scope_q(node, "household__"),
                ended_at__isnull=True,
                kind__in=by_households,
            )
            .exclude(liaison_id__in=Liaison.objects.filter(active=False).values("id"))
            .order_by()
            .values(f"household__{key}", "kind")
            .annotate(n=Count("id"))
        ):
            covered[row["kind"]][row[f"household__{key}"]] = row["n"]

    with_people = {group for group, _kind in loads}
    names = {n.pk: n.name for n in candidates}
    rows: list[dict[str, Any]] = []
    totals = {r.kind: {"eligible": 0, "covered": 0, "missing": 0} for r in rules}
    total_loads = {r.kind: _Loads() for r in rules}
    for group in candidates:
        if not by_village and not (
            group.pk in count_by_row or group.pk in with_people or group.level == Level.GRID
        ):
            continue  # an area, or the village itself, with nothing directly in it
        report_row: dict[str, Any] = {
            "id": group.pk,
            "name": group.name if by_village else _row_name(group, node, names),
            "households": count_by_row.get(group.pk, 0),
            "kinds": {},
        }
        for rule in rules:
            n_eligible = eligible[rule.kind].get(group.pk, 0)
            n_covered = min(covered[rule.kind].get(group.pk, 0), n_eligible)
            people_row = loads.get((group.pk, rule.kind), _Loads())
            report_row["kinds"][rule.kind] = {
                "eligible": n_eligible,
                "covered": n_covered,
                "missing": n_eligible - n_covered,
                **people_row.as_dict(),
            }
            for field_name in ("eligible", "covered", "missing"):
                totals[rule.kind][field_name] += report_row["kinds"][rule.kind][field_name]
            total_loads[rule.kind].merge(people_row)
        rows.append(report_row)

    missing = sum(t["missing"] for t in totals.values())
    return {
        "node": {"id": node.pk, "name": node.name, "level": node.level},
        "rows_are": "village" if by_village else "grid",
        "kinds": [{"kind": r.kind, "label": r.label, "tagged": bool(r.tags)} for r in rules],
        "households": sum(count_by_row.values()),
        "missing": missing,
        "complete": missing == 0,
        "rows": rows,
        "totals": {
            kind: {**values, **total_loads[kind].as_dict()} for kind, values in totals.items()
        },
    }
