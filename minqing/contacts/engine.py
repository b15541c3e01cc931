"""The assignment engine: households to liaisons of one kind in one village, as a min-cost flow.

Each household sends one unit of flow to the sink through one liaison. Its arcs go to the
liaisons of its own grid, to the ``NEAREST`` nearest others and to its current liaison, costed by
distance (by coordinates, else by grid order), a surcharge for leaving one's own grid, the
matching rules (无职党员→一般农户 …) and a bonus for staying with the current liaison, so a re-run
moves as few households as possible. A liaison's arc to the sink is cut into pieces of rising cost
(fill to the minimum load first, then to the village's average, then ever dearer up to the
maximum): a convex cost, so the optimum balances the load. Households no liaison can take flow
through a very dear "nobody" arc and are reported as a shortage, never forced on anyone.

The solver is OR-Tools' ``SimpleMinCostFlow`` (Google, network simplex in C++), fed numpy arrays.
Pure computation: nothing here reads or writes the database (``services.assign`` does), so it
stays a module of its own beside ``services``. The benchmark's measures (round-robin, loads and
distances) are ``minqing.demo.contacts_measures``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from ortools.graph.python import min_cost_flow

#: How many of the nearest liaisons of other grids a household may go to (its own grid's are
#: always allowed).
NEAREST = 4
#: Cost units: 100 = one kilometre.
PER_METRE = 0.1
#: Two grids apart counts as this many metres when there are no coordinates.
GRID_STEP_METRES = 1000
OTHER_GRID = 200
STAY = 60
MATCH_UNIT = 10  # a rule's weight × this; weight 10 ≈ 1 km
DISTANCE_CAP = 5000  # 50 km: beyond, all the same
#: Every household arc costs at least this, so the bonuses never make a cost negative.
BASE = 1000 + 10 * MATCH_UNIT + STAY
NOBODY = 10_000_000
#: A liaison's load is cut into tenths of the village's average: below 80 % each household
#: earns ``UNDERLOAD``, up to the average it is free, and every tenth above costs ``OVERLOAD``
#: more per household than the one before (a convex cost, so the optimum spreads the load).
UNDERLOAD = 50
OVERLOAD = 50
#: Filling a liaison up to its minimum load is rewarded by this much per household.
MINIMUM_REWARD = BASE


@dataclass
class Problem:
    """One village, one kind. Arrays are indexed by household (``h_*``) or liaison (``l_*``)."""

    h_ids: np.ndarray  # int64
    h_grid: np.ndarray  # int64 grid order within the village
    h_lat: np.ndarray  # float64, nan when unknown
    h_lon: np.ndarray
    h_current: np.ndarray  # int64 liaison index, -1 for none
    h_match: np.ndarray  # int64 bitmask: bit c set when the household suits liaison category c
    l_ids: np.ndarray
    l_grid: np.ndarray
    l_lat: np.ndarray
    l_lon: np.ndarray
    l_category: np.ndarray  # int64 category index, -1 for none
    l_min: np.ndarray  # int64, after fixed (manual) links are taken off
    l_max: np.ndarray
    match_weight: dict[int, int] = field(default_factory=dict)  # category index → weight
    #: How strongly to even the load out, × ``UNDERLOAD``/``OVERLOAD``: group leaders lead their
    #: own group whatever its size (1); party members and representatives share (2).
    balance: int = 1


@dataclass
class Solution:
    choice: np.ndarray  # per household: liaison index, -1 when nobody could take it
    cost: int

    @property
    def unassigned(self) -> int:
        return int((self.choice < 0).sum())


def distances(problem: Problem) -> np.ndarray:
    """Metres from every household to every liaison (households × liaisons).

    An equirectangular projection at the village's mean latitude: exact to a fraction of a per
    cent over a village's few kilometres, and cheap enough for a county of half a million.
    """
    lats = np.concatenate([problem.h_lat, problem.l_lat])
    mean = np.nanmean(lats) if np.isfinite(lats).any() else 0.0
    kx = np.float32(111_320.0 * np.cos(np.radians(mean)))
    ky = np.float32(110_540.0)
    dy = (
        problem.h_lat.astype(np.float32)[:, None] - problem.l_lat.astype(np.float32)[None, :]
    ) * ky
    dx = (
        problem.h_lon.astype(np.float32)[:, None] - problem.l_lon.astype(np.float32)[None, :]
    ) * kx
    metres = np.sqrt(dx * dx + dy * dy)
    missing = np.isnan(metres)
    if missing.any():
        by_grid = np.abs(problem.h_grid[:, None] - problem.l_grid[None, :]).astype(np.float32)
        metres = np.where(missing, by_grid * np.float32(GRID_STEP_METRES), metres)
    return metres


def solve(problem: Problem) -> Solution:
    n_h = len(problem.h_ids)
    n_l = len(problem.l_ids)
    if n_h == 0:
        return Solution(choice=np.zeros(0, dtype=np.int64), cost=0)
    if n_l == 0:
        return Solution(choice=np.full(n_h, -1, dtype=np.int64), cost=0)

    metres = distances(problem)
    same_grid = problem.h_grid[:, None] == problem.l_grid[None, :]
    candidate = same_grid.copy()
    # Besides its own grid's people, the nearest people of other grids: then a household of a
    # big grid can go to the next grid's people, who would otherwise sit idle.
    others = np.where(same_grid, np.float32(np.inf), metres)
    if n_l > NEAREST:
        nearest = np.argpartition(others, NEAREST - 1, axis=1)[:, :NEAREST]
        candidate[np.arange(n_h)[:, None], nearest] = True
    else:
        candidate[:] = True
    has_current = problem.h_current >= 0
    candidate[np.nonzero(has_current)[0], problem.h_current[has_current]] = True
    capable = problem.l_max > 0
    candidate &= capable[None, :]

    cost = BASE + np.minimum(metres * np.float32(PER_METRE), DISTANCE_CAP * PER_METRE).astype(
        np.int64
    )
    cost += np.where(same_grid, 0, OTHER_GRID)
    for category, weight in problem.match_weight.items():
        suits = (problem.h_match >> category) & 1
        of_category = problem.l_category == category
        cost -= (suits[:, None] * of_category[None, :]) * (weight * MATCH_UNIT)
    stay = np.zeros_like(cost)
    stay[np.nonzero(has_current)[0], problem.h_current[has_current]] = STAY
    cost -= stay

    h_idx, l_idx = np.nonzero(candidate)
    arc_cost = cost[h_idx, l_idx]
    source_of = h_idx.astype(np.int64)
    sink = n_h + n_l
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(
        source_of, (n_h + l_idx).astype(np.int64), np.ones(len(h_idx), dtype=np.int64), arc_cost
    )
    # Nobody: a household no liaison can take still has somewhere to send its unit.
    flow.add_arcs_with_capacity_and_unit_cost(
        np.arange(n_h, dtype=np.int64),
        np.full(n_h, sink, dtype=np.int64),
        np.ones(n_h, dtype=np.int64),
        np.full(n_h, NOBODY, dtype=np.int64),
    )
    tails, caps, costs = _load_pieces(problem, n_h)
    flow.add_arcs_with_capacity_and_unit_cost(
        tails, np.full(len(tails), sink, dtype=np.int64), caps, costs
    )
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[:n_h] = 1
    supplies[sink] = -n_h
    flow.set_nodes_supplies(np.arange(sink + 1, dtype=np.int64), supplies)
    status = flow.solve()
    if status != flow.OPTIMAL:  # pragma: no cover - the nobody arcs make it always feasible
        raise RuntimeError(f"min-cost flow failed: {status}")
    used = flow.flows(arcs) > 0
    choice = np.full(n_h, -1, dtype=np.int64)
    choice[h_idx[used]] = l_idx[used]
    return Solution(choice=choice, cost=int(flow.optimal_cost()))


def _load_pieces(problem: Problem, n_h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The liaison → sink arcs: to the minimum (rewarded), to 80 % of the average (rewarded a
    little), to the average (free), then dearer by the tenth."""
    total_max = int(problem.l_max.sum())
    active = max(1, int((problem.l_max > 0).sum()))
    average = math.ceil(min(n_h, total_max) / active)
    tails: list[int] = []
    caps: list[int] = []
    costs: list[int] = []

    def piece(liaison: int, capacity: int, cost: int) -> None:
        if capacity > 0:
            tails.append(n_h + liaison)
            caps.append(capacity)
            costs.append(cost)

    for i in range(len(problem.l_ids)):
        low, high = int(problem.l_min[i]), int(problem.l_max[i])
        if high <= 0:
            continue
        low = min(low, high)
        piece(i, low, -MINIMUM_REWARD)
        under = max(low, min(high, int(average * 0.8)))
        piece(i, under - low, -UNDERLOAD * problem.balance)
        target = max(under, min(high, average))
        piece(i, target - under, 0)
        tenth = max(1, math.ceil(average / 10))
        step = OVERLOAD * problem.balance
        load, extra = target, step
        while load < high:
            take = min(tenth, high - load)
            piece(i, take, extra)
            load += take
            extra += step
    return (
        np.asarray(tails, dtype=np.int64),
        np.asarray(caps, dtype=np.int64),
        np.asarray(costs, dtype=np.int64),
    )
