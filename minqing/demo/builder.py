"""Build the demo county into the current database, fast.

Rows are generated in Python (in worker processes for big builds on machines with more than
two CPUs) and written with executemany (SQLite) or binary COPY (PostgreSQL) inside one
transaction; secondary indexes and foreign keys of the big tables are built after the load.
Personal data is sealed with the real key ring, exactly as the model fields would seal it, so
the result behaves like data typed in through the pages.
"""

from __future__ import annotations

import datetime as dt
import gc
import multiprocessing
import os
import time
from collections import defaultdict
from collections.abc import Callable, Generator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from minqing.audit.services import audit_record
from minqing.demo import people
from minqing.demo.contacts import NetworkReport, build_network
from minqing.demo.database import DEMO_ACTION
from minqing.demo.issues import IssueBuild, IssueReport, create_departments
from minqing.demo.loader import BIG_TABLES, Loader, max_id
from minqing.demo.menus import CampaignReport, run_campaign
from minqing.demo.menus import describe as describe_campaign
from minqing.demo.plan import CountyPlan, Size, VillagePlan, plan_county
from minqing.demo.users import create_demo_users, demo_village
from minqing.households.models import Household, HouseholdTag, Resident, VillageArchive
from minqing.lib.crypto import Keyring, keyring
from minqing.org.models import Node

NODE_COLUMNS = (
    "id",
    "parent_id",
    "name",
    "level",
    "level_name",
    "code",
    "kind",
    "path",
    "depth",
    "sort_key",
    "household_count",
    "resident_count",
)
#: Below this many households the build stays in one process and keeps its indexes in place.
PARALLEL_FROM = 20_000


@dataclass
class BuildOptions:
    households: int | None = None
    preset: str | None = None
    seed: int = 2023
    workers: int | None = None  # None: automatic
    defer_indexes: bool | None = None  # None: automatic
    progress: Callable[[str], None] | None = None
    #: the quarterly menu's campaign, answered (``minqing.demo.menus``); the bench times it apart
    campaign: bool = True

    @property
    def size(self) -> Size:
        if self.preset:
            return Size.preset(self.preset)
        return Size.for_households(self.households or 1500)

    def params(self) -> dict[str, Any]:
        return {"preset": self.preset or "", "households": self.size.households, "seed": self.seed}


@dataclass
class BuildReport:
    params: dict[str, Any]
    seconds: float = 0.0
    nodes: int = 0
    villages: int = 0
    grids: int = 0
    households: int = 0
    residents: int = 0
    tags: int = 0
    archives: int = 0
    workers: int = 0
    phases: dict[str, float] = field(default_factory=dict)
    tag_counts: dict[str, int] = field(default_factory=dict)
    issues: IssueReport = field(default_factory=IssueReport)
    network: NetworkReport = field(default_factory=NetworkReport)
    menus: CampaignReport | None = None

    @property
    def rows(self) -> int:
        """Rows of the county itself (the issues count apart: ``issues.rows``)."""
        return self.nodes + self.households + self.residents + self.tags + self.archives


def auto_workers(households: int) -> int:
    """Generator processes worth starting: none on two cores or fewer.

    Handing rows from a worker to the writer (pickle, then unpickle under the writer's GIL)
    costs about a third of what generating them does; measured on two cores, one process
    generating and writing was faster than any split. With more cores the split pays off.
    """
    cpus = os.cpu_count() or 1
    if households < PARALLEL_FROM or cpus <= 2:
        return 0
    return min(4, cpus - 1)


def _say(options: BuildOptions, message: str) -> None:
    if options.progress is not None:
        options.progress(message)


def build_county(options: BuildOptions) -> BuildReport:
    """Generate and load the county in one transaction; returns what was built and how fast."""
    size = options.size
    report = BuildReport(params=options.params())
    started = time.perf_counter()
    workers = options.workers
    if workers is None:
        workers = auto_workers(size.households)
    if "fork" not in multiprocessing.get_all_start_methods():
        workers = 0  # workers inherit the loaded apps; without fork build in-process
    defer = options.defer_indexes
    if defer is None:
        defer = size.households >= PARALLEL_FROM
    report.workers = workers

    connection.ensure_connection()
    ring = keyring()
    tag_ids = dict(HouseholdTag.objects.values_list("code", "id"))
    now = timezone.now()
    stamp = connection.ops.adapt_datetimefield_value(now)
    sqlite = connection.vendor == "sqlite"
    today = timezone.localdate()
    loader = Loader(defer_indexes=defer)
    loader.tune()
    collecting = gc.isenabled()
    try:
        with transaction.atomic():
            plan = plan_county(
                size,
                options.seed,
                node_id_base=max_id("org_node"),
                household_id_base=max_id("households_household"),
            )
            report.phases["plan"] = time.perf_counter() - started
            loader.start()
            loader.insert(
                "org_node",
                NODE_COLUMNS,
                [
                    (
                        n.id,
                        n.parent_id,
                        n.name,
                        n.level,
                        n.level_name,
                        n.code,
                        n.kind,
                        n.path,
                        n.depth,
                        n.sort_key,
                        0,
                        0,
                    )
                    for n in plan.nodes
                ],
            )
            batches = _batches(plan, options.seed, tag_ids, ring, today, stamp, sqlite)
            grid_residents: dict[int, int] = {}
            tag_counts: dict[str, int] = defaultdict(int)
            waited = writing = 0.0
            generated = _generate(batches, workers)
            try:
                for _batch in batches:
                    tick = time.perf_counter()
                    rows = next(generated)
                    waited += time.perf_counter() - tick
                    tick = time.perf_counter()
                    loader.insert("households_household", people.HOUSEHOLD_COLUMNS, rows.households)
                    loader.insert("households_resident", people.RESIDENT_COLUMNS, rows.residents)
                    loader.insert("households_household_tags", people.TAG_COLUMNS, rows.tags)
                    loader.insert(
                        "households_villagearchive", people.ARCHIVE_COLUMNS, rows.archives
                    )
                    writing += time.perf_counter() - tick
                    grid_residents.update(rows.grid_residents)
                    for code, n in rows.tag_counts.items():
                        tag_counts[code] += n
                    report.households += len(rows.households)
                    report.residents += len(rows.residents)
                    report.tags += len(rows.tags)
                    report.archives += len(rows.archives)
                    _say(
                        options,
                        f"  {report.households:>9,} households, "
                        f"{report.residents:>9,} residents "
                        f"({time.perf_counter() - started:.1f} s)",
                    )
            finally:
                generated.close()
            report.phases["load"] = time.perf_counter() - started
            report.phases["load_waiting_for_rows"] = waited
            report.phases["load_writing"] = writing
            loader.update_counts(_cumulative_counts(plan, grid_residents))
            # From here on millions of small objects that never form cycles are made: the
            # cyclic collector would only scan them again and again (a fifth of the issue build).
            gc.disable()
            departments = create_departments(plan.county.id)
            users = create_demo_users(plan)
            # The issues' stories are told in a thread while the household indexes are built.
            issues = IssueBuild(plan, departments, seed=options.seed)
            _say(options, "  building indexes…" if defer else "  finishing…")
            loader.finish(BIG_TABLES)
            report.phases["indexes"] = time.perf_counter() - started
            loader.reset_sequences(
                [Node, Household, Resident, VillageArchive, Household.tags.through]
            )
            _say(options, "  issues…")
            report.issues = issues.write(loader)
            report.phases["issues"] = time.perf_counter() - started
            report.seconds = time.perf_counter() - started
            report.nodes = len(plan.nodes)
            report.villages = len(plan.villages)
            report.grids = sum(len(v.grids) for v in plan.villages)
            report.tag_counts = dict(tag_counts)
            audit_record(
                action=DEMO_ACTION,
                object_type="org.node",
                object_id=str(plan.county.id),
                username="minqing demo",
                detail={
                    **report.params,
                    "nodes": report.nodes,
                    "households_built": report.households,
                    "residents": report.residents,
                    "issues": report.issues.issues,
                    "seconds": round(report.seconds, 1),
                    "users": sorted(users),
                    "vendor": connection.vendor,
                },
            )
            report.phases["users"] = time.perf_counter() - started
        report.phases["commit"] = time.perf_counter() - started
        loader.analyze()
    finally:
        loader.restore_settings()
        if collecting:
            gc.enable()
    report.phases["analyze"] = time.perf_counter() - started
    _say(options, "  contact network…")
    county = Node.objects.get(pk=plan.county.id)
    report.network = build_network(county, demo_grid_id=demo_village(plan).grids[0].node.id)
    report.phases["network"] = time.perf_counter() - started
    if options.campaign:
        _say(options, "  quarterly menu and its campaign…")
        report.menus = run_campaign(county, seed=options.seed, say=lambda m: _say(options, m))
        _say(options, "  " + describe_campaign(report.menus))
        report.phases["menus"] = time.perf_counter() - started
    report.seconds = time.perf_counter() - started
    return report


def _batches(
    plan: CountyPlan,
    seed: int,
    tag_ids: dict[str, int],
    ring: Keyring,
    today: dt.date,
    stamp: Any,
    sqlite: bool,
) -> list[people.Batch]:
    """Runs of whole villages of roughly equal size (≈1/48 of the county, ≥2,000 households).

    Small batches let the writer start early; their number must stay well below the 500 ID
    order codes per birth date that the batches share out.
    """
    target = max(2_000, plan.size.households // 48)
    runs: list[list[VillagePlan]] = [[]]
    filled = 0
    for village in plan.villages:
        if filled >= target:
            runs.append([])
            filled = 0
        runs[-1].append(village)
        filled += village.households
    return [
        people.Batch(
            seed=seed,
            index=i,
            count=len(runs),
            villages=run,
            tag_ids=tag_ids,
            ring=ring,
            today=today,
            stamp=stamp,
            dates_as_text=sqlite,
        )
        for i, run in enumerate(runs)
    ]


def _generate(batches: list[people.Batch], workers: int) -> Generator[people.BatchRows, None, None]:
    """Batch rows in order, from worker processes when asked for."""
    if workers <= 0:
        for batch in batches:
            yield people.generate_batch(batch)
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        yield from pool.map(people.generate_batch, batches)


def _cumulative_counts(
    plan: CountyPlan, grid_residents: dict[int, int]
) -> list[tuple[int, int, int]]:
    """(households, residents, node id) for every node, summed over its subtree."""
    households: dict[int, int] = defaultdict(int)
    residents: dict[int, int] = defaultdict(int)
    for village in plan.villages:
        for grid in village.grids:
            for ancestor in grid.node.path.strip("/").split("/"):
                households[int(ancestor)] += grid.households
                residents[int(ancestor)] += grid_residents.get(grid.node.id, 0)
    return [(households[n.id], residents[n.id], n.id) for n in plan.nodes]


def add_build_arguments(parser: Any) -> None:
    """The county-size options that ``minqing demo`` and ``minqing bench`` share."""
    parser.add_argument(
        "--households", type=int, default=None, help="size of the county (default 1,500)"
    )
    parser.add_argument(
        "--preset",
        choices=["qiaocheng"],
        default=None,
        help="qiaocheng: 275 villages, 5,320 grids, 530,000 households",
    )
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument(
        "--build-workers",
        type=int,
        default=None,
        help="generator processes for the build (default: automatic)",
    )
