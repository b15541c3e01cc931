"""One village's assignment plan, in three steps: read the village (plain rows), solve each kind
(arrays and the engine), shape the solutions into the changes to write and the run's counts.

Array work throughout: a county is half a million rows. Nothing here writes (``link_writer``
does, ``assignment.assign`` drives the villages).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db import connection

from minqing.contacts import engine
from minqing.contacts.defaults import CATEGORY_BITS
from minqing.contacts.models import AssignmentRule, ContactLink, Liaison, LiaisonKind, MatchRule
from minqing.households.models import Household
from minqing.org.models import Node, subtree_q

#: Kinds whose people share a village's households evenly (balanced twice as hard as group
#: leaders, who lead their own group whatever its size).
SHARING = {LiaisonKind.PARTY_MEMBER: 2, LiaisonKind.REPRESENTATIVE: 2}
#: Household ids per IN (…) when reading a village's tags and links.
ID_CHUNK = 10_000

#: A new link: (household id, liaison id, kind).
NewLink = tuple[int, int, str]


class Matching:
    """The county's matching rules as bitmasks over household tags, per liaison kind."""

    def __init__(self, county: Node) -> None:
        self.by_kind: dict[str, list[tuple[int, set[int], int]]] = defaultdict(list)
        self.key_tags: dict[str, set[int]] = defaultdict(set)
        for rule in MatchRule.objects.filter(county=county).prefetch_related("tags"):
            tag_ids = {t.pk for t in rule.tags.all()}
            bit = CATEGORY_BITS.get(rule.category)
            if bit is None:
                continue
            self.by_kind[rule.kind].append((bit, tag_ids, rule.weight))
            self.key_tags[rule.kind] |= tag_ids

    def weights(self, kind: str) -> dict[int, int]:
        return {bit: weight for bit, _tags, weight in self.by_kind.get(kind, [])}

    def mask(self, kind: str, tags: set[int]) -> int:
        mask = 0
        for bit, wanted, _weight in self.by_kind.get(kind, []):
            if (wanted and tags & wanted) or (not wanted and not tags & self.key_tags[kind]):
                mask |= 1 << bit
        return mask


@dataclass
class VillagePlan:
    """What one village's run changes: the links to end and to add, the counts (only those
    not zero) and the shortages of required kinds."""

    counts: dict[str, int] = field(default_factory=dict)
    shortages: list[dict[str, Any]] = field(default_factory=list)
    to_end: list[int] = field(default_factory=list)
    to_add: list[NewLink] = field(default_factory=list)


def plan_village(
    village: Node,
    rules: dict[str, AssignmentRule],
    eligible: dict[str, set[int]],
    matching: Matching,
) -> VillagePlan:
    """Read one village and solve it for every kind of ``rules``."""
    read = read_village(village, list(rules))
    if not read.households:
        return VillagePlan()
    arrays = household_arrays(read)
    solved = [
        solve_kind(read, arrays, kind, rule, eligible[kind], matching)
        for kind, rule in rules.items()
    ]
    return shape_plan(village, solved)


# --------------------------------------------------------------------------- read


@dataclass
class VillageRead:
    """One village as plain rows (no model instances)."""

    #: the village's nodes in tree order: a household's or liaison's grid order is its index
    grid_ids: np.ndarray
    #: (id, node_id, latitude, longitude) by id
    households: list[tuple[Any, ...]]
    #: (household_id, tag_id) rows, as an n × 2 array
    tag_pairs: np.ndarray
    #: current links: (household_id, kind, id, liaison_id, manual)
    links: list[tuple[Any, ...]]
    #: active liaisons of the kinds in use: (id, kind, node_id, latitude, longitude, category,
    #: capacity), by id
    liaisons: list[tuple[Any, ...]]


def read_village(village: Node, kinds: list[str]) -> VillageRead:
    """The village's nodes, households, their tags and current links, and its liaisons."""
    grid_ids = np.array(
        Node.objects.filter(subtree_q(village.path)).order_by("path").values_list("pk", flat=True),
        dtype=np.int64,
    )
    # Plain SQL for the three big reads: the ORM's row converters (Decimal coordinates,
    # booleans) would cost more than the solver.
    hh = Household._meta.db_table
    through = Household.tags.through._meta.db_table
    link_table = ContactLink._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT id, node_id, latitude, longitude FROM {hh} "  # noqa: S608 - fixed names
            "WHERE village_id = %s ORDER BY id",
            [village.pk],
        )
        rows = cur.fetchall()
        # By the village's household ids, not by a join on the village: every database then
        # reads the tags and links through their household indexes (PostgreSQL would otherwise
        # hash-join the whole link table for each village).
        ids = [r[0] for r in rows]
        pairs: list[tuple[int, int]] = []
        link_rows: list[tuple[Any, ...]] = []
        for start in range(0, len(ids), ID_CHUNK):  # within every database's parameter limit
            chunk = ids[start : start + ID_CHUNK]
            marks = ", ".join(["%s"] * len(chunk))
            cur.execute(
                f"SELECT household_id, householdtag_id FROM {through} "  # noqa: S608
                f"WHERE household_id IN ({marks})",
                chunk,
            )
            pairs += cur.fetchall()
            cur.execute(
                f"SELECT household_id, kind, id, liaison_id, manual FROM {link_table} "  # noqa: S608
                f"WHERE household_id IN ({marks}) AND ended_at IS NULL",
                chunk,
            )
            link_rows += cur.fetchall()
    liaisons = list(
        Liaison.objects.filter(village=village, active=True, kind__in=kinds)
        .order_by("id")
        .values_list("id", "kind", "node_id", "latitude", "longitude", "category", "capacity")
    )
    return VillageRead(
        grid_ids=grid_ids,
        households=rows,
        tag_pairs=np.array(pairs, dtype=np.int64).reshape(-1, 2),
        links=link_rows,
        liaisons=liaisons,
    )


# --------------------------------------------------------------------------- compute


@dataclass
class KindSolved:
    """One kind's outcome before it becomes changes."""

    kind: str
    rule: AssignmentRule
    #: engine-made links of households the kind no longer concerns (hand-set ones stay)
    no_longer_eligible: list[int]
    #: households kept by a hand-set link
    manual: int
    #: per household left to the engine ("free"): its id, current link id and current liaison
    #: id (-1: none), and the liaison id the engine chose (-1: nobody could take it); empty
    #: when no household was free
    h_ids: np.ndarray
    current_link: np.ndarray
    current_liaison: np.ndarray
    chosen: np.ndarray
    unassigned: int = 0


def grid_order(grid_ids: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """node ids → their index in ``grid_ids`` (the village's nodes in tree order)."""
    grid_rank = np.argsort(grid_ids)

    def order(node_ids: np.ndarray) -> np.ndarray:
        at = np.searchsorted(grid_ids[grid_rank], node_ids)
        return grid_rank[np.minimum(at, len(grid_ids) - 1)]

    return order


@dataclass
class HouseholdArrays:
    """The village's households as arrays (in id order), shared by every kind."""

    h_ids: np.ndarray
    h_grid: np.ndarray
    h_lat: np.ndarray
    h_lon: np.ndarray
    order: Callable[[np.ndarray], np.ndarray]


def household_arrays(read: VillageRead) -> HouseholdArrays:
    rows = read.households
    order = grid_order(read.grid_ids)
    return HouseholdArrays(
        h_ids=np.array([r[0] for r in rows], dtype=np.int64),
        h_grid=order(np.array([r[1] for r in rows], dtype=np.int64)),
        h_lat=floats(r[2] for r in rows),
        h_lon=floats(r[3] for r in rows),
        order=order,
    )


def households_tagged(h_ids: np.ndarray, tag_pairs: np.ndarray, tag_ids: set[int]) -> np.ndarray:
    """Per household (in ``h_ids`` order): carries one of ``tag_ids``."""
    if not tag_ids or not len(tag_pairs):
        return np.zeros(len(h_ids), dtype=bool)
    hit = tag_pairs[np.isin(tag_pairs[:, 1], list(tag_ids)), 0]
    return np.isin(h_ids, hit)


def solve_kind(
    read: VillageRead,
    arrays: HouseholdArrays,
    kind: str,
    rule: AssignmentRule,
    wanted: set[int],
    matching: Matching,
) -> KindSolved:
    """The households of ``read`` that ``kind`` concerns, less the hand-set ones, to the
    kind's liaisons by the engine (capacity less the hand-set links each holds)."""
    h_ids = arrays.h_ids
    people = [row for row in read.liaisons if row[1] == kind]
    l_ids = np.array([row[0] for row in people], dtype=np.int64)
    # The current link of each household for this kind: liaison (-1: none), id, manual.
    cur_liaison = np.full(len(h_ids), -1, dtype=np.int64)
    cur_link = np.full(len(h_ids), -1, dtype=np.int64)
    cur_manual = np.zeros(len(h_ids), dtype=bool)
    mine = [r for r in read.links if r[1] == kind]
    if mine:
        at = np.searchsorted(h_ids, np.array([r[0] for r in mine], dtype=np.int64))
        cur_link[at] = [r[2] for r in mine]
        cur_liaison[at] = [r[3] for r in mine]
        cur_manual[at] = [bool(r[4]) for r in mine]
    has_link = cur_link >= 0
    allowed = (
        households_tagged(h_ids, read.tag_pairs, wanted)
        if wanted
        else np.ones(len(h_ids), dtype=bool)
    )
    manual = allowed & has_link & cur_manual
    free = allowed & ~manual
    nothing = np.zeros(0, dtype=np.int64)
    solved = KindSolved(
        kind=kind,
        rule=rule,
        no_longer_eligible=cur_link[~allowed & has_link & ~cur_manual].tolist(),
        manual=int(manual.sum()),
        h_ids=nothing,
        current_link=nothing,
        current_liaison=nothing,
        chosen=nothing,
    )
    if not free.any():
        return solved
    fixed = np.zeros(len(people), dtype=np.int64)
    if len(people) and manual.any():
        held = cur_liaison[manual]
        known = np.isin(held, l_ids)
        np.add.at(fixed, np.searchsorted(l_ids, held[known]), 1)
    f_liaison = cur_liaison[free]
    current = np.full(len(f_liaison), -1, dtype=np.int64)
    if len(people):
        known = np.isin(f_liaison, l_ids)
        current[known] = np.searchsorted(l_ids, f_liaison[known])
    match = np.zeros(len(h_ids), dtype=np.int64)
    for bit, tag_ids, _weight in matching.by_kind.get(kind, []):
        suits = (
            households_tagged(h_ids, read.tag_pairs, tag_ids)
            if tag_ids
            else ~households_tagged(h_ids, read.tag_pairs, matching.key_tags[kind])
        )
        match |= suits.astype(np.int64) << bit
    capacity = np.array([row[6] or rule.max_load for row in people], dtype=np.int64)
    problem = engine.Problem(
        h_ids=h_ids[free],
        h_grid=arrays.h_grid[free],
        h_lat=arrays.h_lat[free],
        h_lon=arrays.h_lon[free],
        h_current=current,
        h_match=match[free],
        l_ids=l_ids,
        l_grid=arrays.order(np.array([row[2] for row in people], dtype=np.int64)),
        l_lat=floats(row[3] for row in people),
        l_lon=floats(row[4] for row in people),
        l_category=np.array([CATEGORY_BITS.get(row[5], -1) for row in people], dtype=np.int64),
        l_min=np.maximum(rule.min_load - fixed, 0),
        l_max=np.maximum(capacity - fixed, 0),
        match_weight=matching.weights(kind),
        balance=SHARING.get(LiaisonKind(kind), 1),
    )
    solution = engine.solve(problem)
    chosen = np.full(len(solution.choice), -1, dtype=np.int64)
    picked = solution.choice >= 0
    chosen[picked] = l_ids[solution.choice[picked]]
    solved.h_ids = problem.h_ids
    solved.current_link = cur_link[free]
    solved.current_liaison = f_liaison
    solved.chosen = chosen
    solved.unassigned = solution.unassigned
    return solved


def floats(values: Iterable[Any]) -> np.ndarray:
    """Coordinates as floats, NaN where unknown."""
    return np.array([float(v) if v is not None else np.nan for v in values], dtype=np.float64)


# --------------------------------------------------------------------------- shape


def shape_plan(village: Node, solved: list[KindSolved]) -> VillagePlan:
    """The kinds' outcomes as one village's changes, counts and shortages: a household keeps a
    link the engine chose again; a changed one ends and the new one is added."""
    counts: dict[str, int] = defaultdict(int)
    plan = VillagePlan()
    for kind in solved:
        plan.to_end += kind.no_longer_eligible
        counts["manual"] += kind.manual
        if not len(kind.h_ids):
            continue
        linked = kind.current_link >= 0
        kept = linked & (kind.current_liaison == kind.chosen)
        counts["kept"] += int(kept.sum())
        changed = linked & ~kept
        plan.to_end += kind.current_link[changed].tolist()
        counts["moved"] += int((changed & (kind.chosen >= 0)).sum())
        counts["ended"] += int((changed & (kind.chosen < 0)).sum())
        new = (kind.chosen >= 0) & ~kept
        counts["assigned"] += int(new.sum())
        plan.to_add += [
            (h, liaison, kind.kind)
            for h, liaison in zip(kind.h_ids[new].tolist(), kind.chosen[new].tolist(), strict=True)
        ]
        if kind.unassigned:
            counts["unassigned"] += kind.unassigned
            if kind.rule.required:
                plan.shortages.append(
                    {
                        "village": village.pk,
                        "name": village.name,
                        "kind": kind.kind,
                        "households": kind.unassigned,
                        "people": math.ceil(kind.unassigned / max(1, kind.rule.max_load)),
                    }
                )
    plan.counts = {k: v for k, v in counts.items() if v}
    return plan
