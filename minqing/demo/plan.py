"""The shape of the demo county: how many towns, villages and grids, and the tree itself.

The tree is generated in Python with ids assigned up front (the database is empty or holds only
rows below ``id_base``), so paths can be written in the same INSERT as the node.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from minqing.demo import names
from minqing.org.models import Kind, Level

COUNTY_NAME = "谯城区"
COUNTY_CODE = "341602"
CENTRE = (33.87, 115.78)  # latitude, longitude of the district seat
GRID_SIZE = 530_000 / 5_320  # households per grid in 谯城区 (≈ 100)


@dataclass(frozen=True)
class Size:
    """How big a county to build."""

    households: int
    towns: int
    streets: int  # how many of the towns are 街道 (urban)
    villages: int
    grids: int

    @classmethod
    def preset(cls, name: str) -> Size:
        if name == "qiaocheng":
            # docs/DOMAIN.md, seed 004 (亳州 谯城区): 275 villages/communities, 5,320 grids,
            # ≈530,000 households.
            return cls(households=530_000, towns=20, streets=4, villages=275, grids=5_320)
        raise ValueError(f"unknown preset {name!r}")

    @classmethod
    def for_households(cls, households: int) -> Size:
        """Scale villages and towns sub-linearly so a small county still has a few of each."""
        households = max(2, households)
        villages = max(2, round(275 * (households / 530_000) ** 0.6))
        villages = min(villages, households // 2)
        towns = min(
            len(names.TOWN_NAMES) + len(names.STREET_NAMES) - 4, max(2, round(villages / 13.75))
        )
        towns = min(towns, villages)
        streets = max(1, round(towns * 0.2))
        grids = min(households, max(2 * villages, round(households / GRID_SIZE)))
        return cls(
            households=households, towns=towns, streets=streets, villages=villages, grids=grids
        )


@dataclass
class NodeRow:
    id: int
    parent_id: int | None
    name: str
    level: str
    level_name: str
    code: str
    kind: str
    path: str
    depth: int
    sort_key: int
    household_count: int = 0
    resident_count: int = 0


@dataclass
class GridPlan:
    """A leaf of the tree that holds households."""

    node: NodeRow
    number: int  # 1-based, unique within the village (household numbers start with it)
    households: int
    style: str  # "group" (村民小组), "grid" (网格) or "building" (楼栋)
    estate: str = ""  # 小区 of a building
    road: str = ""  # road of an urban grid


@dataclass
class VillagePlan:
    node: NodeRow
    index: int  # position in the county, seeds the village's own random stream
    grids: list[GridPlan]
    households: int
    first_household_id: int
    lat: float
    lon: float


@dataclass
class TownPlan:
    node: NodeRow
    index: int
    villages: list[VillagePlan] = field(default_factory=list)


@dataclass
class CountyPlan:
    size: Size
    county: NodeRow
    nodes: list[NodeRow]
    towns: list[TownPlan]

    @property
    def villages(self) -> list[VillagePlan]:
        return [v for t in self.towns for v in t.villages]


def _allocate(total: int, weights: list[float], minimum: int = 0) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (largest remainder), each ≥ ``minimum``."""
    n = len(weights)
    minimum = min(minimum, total // n) if n else 0
    rest = total - minimum * n
    wsum = sum(weights) or 1.0
    raw = [rest * w / wsum for w in weights]
    parts = [math.floor(r) for r in raw]
    order = sorted(range(n), key=lambda i: raw[i] - parts[i], reverse=True)
    for i in order[: rest - sum(parts)]:
        parts[i] += 1
    return [p + minimum for p in parts]


class _Ids:
    def __init__(self, base: int) -> None:
        self.next = base + 1

    def take(self) -> int:
        value = self.next
        self.next += 1
        return value


def plan_county(
    size: Size, seed: int, node_id_base: int = 0, household_id_base: int = 0
) -> CountyPlan:
    """Lay out the tree: county → 镇/街道 → 村/社区 → (片/小区) → 村民小组/网格/楼栋."""
    rng = random.Random(f"{seed}:tree")
    ids = _Ids(node_id_base)
    nodes: list[NodeRow] = []

    def add(
        parent: NodeRow | None,
        name: str,
        level: str,
        level_name: str,
        code: str,
        kind: str,
        sort_key: int,
    ) -> NodeRow:
        node_id = ids.take()
        path = f"{parent.path if parent else '/'}{node_id}/"
        row = NodeRow(
            id=node_id,
            parent_id=parent.id if parent else None,
            name=name,
            level=level,
            level_name=level_name,
            code=code,
            kind=kind,
            path=path,
            depth=parent.depth + 1 if parent else 0,
            sort_key=sort_key,
        )
        nodes.append(row)
        return row

    county = add(None, COUNTY_NAME, Level.COUNTY, "区", COUNTY_CODE, Kind.URBAN, 0)

    # Towns: the 街道 first (codes 001…), then the 镇 (codes 100…).
    street_names = rng.sample(names.STREET_NAMES, size.streets)
    town_names = rng.sample(names.TOWN_NAMES, size.towns - size.streets)
    towns: list[TownPlan] = []
    for i, tname in enumerate(street_names):
        node = add(
            county, f"{tname}街道", Level.TOWN, "街道", f"{COUNTY_CODE}{i + 1:03d}", Kind.URBAN, i
        )
        towns.append(TownPlan(node=node, index=len(towns)))
    for i, tname in enumerate(town_names):
        node = add(
            county,
            f"{tname}镇",
            Level.TOWN,
            "镇",
            f"{COUNTY_CODE}{100 + i + 1:03d}",
            Kind.RURAL,
            size.streets + i,
        )
        towns.append(TownPlan(node=node, index=len(towns)))

    # Villages per town, then their kind and weight (communities are bigger).
    per_town = _allocate(size.villages, [rng.uniform(0.8, 1.2) for _ in towns], minimum=1)
    specs: list[tuple[TownPlan, bool]] = []  # (town, is community)
    for town, count in zip(towns, per_town, strict=True):
        is_street = town.node.level_name == "街道"
        for j in range(count):
            if is_street:
                urban = j < max(1, round(count * 0.8))
            else:
                urban = j == 0 and count >= 6 and rng.random() < 0.5  # 镇区社区
            specs.append((town, urban))
    weights = [(2.5 if urban else 1.0) * rng.lognormvariate(0, 0.35) for _t, urban in specs]
    households = _allocate(size.households, weights, minimum=1)
    grid_counts = _allocate(size.grids, [float(h) for h in households], minimum=2)
    grid_counts = [max(1, min(g, h)) for g, h in zip(grid_counts, households, strict=True)]

    taken: set[str] = set()
    next_household = household_id_base + 1
    seq_in_town: dict[int, int] = {}
    for index, ((town, urban), hh, n_grids) in enumerate(
        zip(specs, households, grid_counts, strict=True)
    ):
        j = seq_in_town.get(town.index, 0)
        seq_in_town[town.index] = j + 1
        if urban and town.node.level_name == "镇" and f"{town.node.name[:-1]}社区" not in taken:
            vname = f"{town.node.name[:-1]}社区"
            taken.add(vname)
        elif urban:
            vname = names.community_name(rng, taken)
        else:
            vname = names.village_name(rng, taken)
        n_urban = sum(1 for v in town.villages if v.node.kind == Kind.URBAN)
        code_no = n_urban + 1 if urban else 200 + len(town.villages) - n_urban + 1
        vnode = add(
            town.node,
            vname,
            Level.VILLAGE,
            "社区" if urban else "村",
            f"{town.node.code}{code_no:03d}",
            Kind.URBAN if urban else Kind.RURAL,
            j,
        )
        lat, lon = _village_position(rng, town)
        village = VillagePlan(
            node=vnode,
            index=index,
            grids=[],
            households=hh,
            first_household_id=next_household,
            lat=lat,
            lon=lon,
        )
        next_household += hh
        sizes = _allocate(hh, [rng.uniform(0.7, 1.3) for _ in range(n_grids)], minimum=1)
        _add_grids(rng, add, village, sizes, urban, taken)
        town.villages.append(village)
    return CountyPlan(size=size, county=county, nodes=nodes, towns=towns)


def _village_position(rng: random.Random, town: TownPlan) -> tuple[float, float]:
    """Streets cluster round the district seat; towns spread over the district."""
    key = random.Random(town.node.name)
    spread = 0.05 if town.node.level_name == "街道" else 0.22
    t_lat = CENTRE[0] + key.uniform(-spread, spread)
    t_lon = CENTRE[1] + key.uniform(-spread * 1.3, spread * 1.3)
    return t_lat + rng.uniform(-0.04, 0.04), t_lon + rng.uniform(-0.05, 0.05)


AddNode = Callable[[NodeRow | None, str, str, str, str, str, int], NodeRow]


def _add_grids(
    rng: random.Random,
    add: AddNode,
    village: VillagePlan,
    sizes: list[int],
    urban: bool,
    taken: set[str],
) -> None:
    """Groups or grids of one village, sometimes under 片 (rural) or 小区 (urban)."""
    vnode = village.node
    n = len(sizes)
    parents: list[tuple[NodeRow, str]] = []  # (parent node, estate name) per grid
    if not urban and n >= 6 and rng.random() < 0.3:
        n_areas = min(len(names.AREA_NAMES), rng.randint(2, 4))
        areas = [
            add(vnode, aname, Level.AREA, "片", f"{vnode.code}{900 + k + 1}", vnode.kind, k)
            for k, aname in enumerate(rng.sample(names.AREA_NAMES, n_areas))
        ]
        per_area = _allocate(n, [1.0] * n_areas, minimum=1)
        parents = [
            (area, "") for area, cnt in zip(areas, per_area, strict=True) for _ in range(cnt)
        ]
    elif urban and n >= 2 and rng.random() < 0.35:
        n_estates = max(1, n // 6)
        estates = []
        for k in range(n_estates):
            ename = names.estate_name(rng, taken)
            estates.append(
                add(vnode, ename, Level.AREA, "小区", f"{vnode.code}{900 + k + 1}", vnode.kind, k)
            )
        per_estate = _allocate(n, [1.0] * n_estates, minimum=1)
        parents = [
            (e, e.name) for e, cnt in zip(estates, per_estate, strict=True) for _ in range(cnt)
        ]
    else:
        parents = [(vnode, "")] * n
    in_parent: dict[int, int] = {}
    for number, (hh, (parent, estate)) in enumerate(zip(sizes, parents, strict=True), start=1):
        k = in_parent.get(parent.id, 0) + 1
        in_parent[parent.id] = k
        code = f"{vnode.code}{number:03d}"
        if estate:
            node = add(parent, f"{k}号楼", Level.GRID, "楼栋", code, vnode.kind, k)
            village.grids.append(GridPlan(node, number, hh, "building", estate=estate))
        elif urban:
            node = add(
                parent,
                f"第{names.chinese_number(number)}网格",
                Level.GRID,
                "网格",
                code,
                vnode.kind,
                number,
            )
            village.grids.append(GridPlan(node, number, hh, "grid", road=rng.choice(names.ROADS)))
        else:
            node = add(
                parent,
                f"{names.chinese_number(number)}组",
                Level.GRID,
                "村民小组",
                code,
                vnode.kind,
                number,
            )
            village.grids.append(GridPlan(node, number, hh, "group"))
