"""划片包干 — the assignment run: the engine over every village of a place, queued or inline."""

from __future__ import annotations

import datetime as dt
import logging
import math
import queue
import threading
import time
from collections import defaultdict
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.audit.services import audit_record
from minqing.contacts import engine
from minqing.contacts.models import (
    ACTIVE_RUN_STATES,
    AssignmentRule,
    AssignmentRun,
    ContactLink,
    Liaison,
    LiaisonKind,
    MatchRule,
    RunStatus,
)
from minqing.contacts.services.common import county_of, require_manage, village_of
from minqing.contacts.services.rules import CATEGORY_BITS, rules_for
from minqing.households.models import Household
from minqing.org.models import Level, Node, subtree_q

log = logging.getLogger(__name__)

#: The dotted path of the worker job that runs a queued run (``minqing.contacts.jobs``).
RUN_JOB = "minqing.contacts.jobs.run_assignment"
#: A run still "running" after this long lost its worker (killed, machine restarted).
STALE_RUN = dt.timedelta(hours=3)


class _Matching:
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


def assign(
    *, node: Node, by: Any = None, request: Any = None, run: AssignmentRun | None = None
) -> AssignmentRun:
    """划片包干 — (re)assign every household under ``node`` for every active kind.

    One transaction per village, so a county-wide run never holds the database for long and a
    failure leaves the villages done so far done. Manual links stay; households of a liaison who
    left go to someone else; a village without enough people gets all it can and a shortage line
    in the run's result saying how many people it lacks.

    ``run`` is a queued run the worker has claimed (:func:`run_claim`); without it a new run is
    opened, refused while another run of the same place is under way.
    """
    county = county_of(node)
    rules = {k: r for k, r in rules_for(county).items() if r.active}
    matching = _Matching(county)
    eligible = {kind: {t.pk for t in rule.eligible_tags.all()} for kind, rule in rules.items()}
    started = time.perf_counter()
    if run is None:
        run = _run_open(node=node, by=by)
    totals: dict[str, int] = defaultdict(int)
    shortages: list[dict[str, Any]] = []
    villages = Node.objects.filter(subtree_q(node.path), level=Level.VILLAGE).order_by("path")
    if node.level not in (Level.PROVINCE, Level.CITY, Level.COUNTY, Level.TOWN):
        villages = Node.objects.filter(pk=village_of(node).pk)
    try:
        written = 0
        with _LinkWriter(by=by, threaded=not connection.in_atomic_block) as writer:
            for village in villages.only("id", "name", "path"):
                counts, short, changes = _plan_village(village, rules, eligible, matching)
                writer.put(village, changes)
                for key, value in counts.items():
                    totals[key] += value
                shortages.extend(short)
                written += len(changes[1])
                if written >= ANALYZE_EVERY:
                    _analyze_links()
                    written = 0
        if written >= ANALYZE_EVERY // 10:
            _analyze_links()
    except Exception as exc:
        _run_failed(run, exc, {**totals, "shortages": shortages})
        raise
    run.status = RunStatus.DONE
    run.finished_at = timezone.now()
    run.result = {
        **totals,
        "seconds": round(time.perf_counter() - started, 2),
        "shortages": shortages,
        "kinds": sorted(rules),
    }
    with transaction.atomic():
        run.save(update_fields=["status", "finished_at", "result"])
        audit_record(
            action="contacts.assign",
            user=by,
            request=request,
            obj=node,
            detail={k: v for k, v in run.result.items() if k not in ("shortages", "kinds")}
            | {"run": run.pk, "short_villages": len({s["village"] for s in shortages})},
        )
    return run


def _run_open(*, node: Node, by: Any) -> AssignmentRun:
    """A new running run of ``node``, or a clear refusal when one is under way already."""
    expire_stale(node)
    try:
        with transaction.atomic():
            return AssignmentRun.objects.create(node=node, by=by, status=RunStatus.RUNNING)
    except IntegrityError:
        raise ValidationError(
            _("An assignment run of this place is under way already; wait for it to finish.")
        ) from None


def _run_failed(run: AssignmentRun, exc: BaseException, partial: dict[str, Any]) -> None:
    log.exception("assignment run %s of node %s failed", run.pk, run.node_id)
    AssignmentRun.objects.filter(pk=run.pk).update(
        status=RunStatus.FAILED,
        finished_at=timezone.now(),
        result={**partial, "error": type(exc).__name__},
    )


def expire_stale(node: Node | None = None) -> int:
    """Fail runs whose worker died mid-way, so the place can be run again."""
    stale = AssignmentRun.objects.filter(
        status=RunStatus.RUNNING, started_at__lt=timezone.now() - STALE_RUN
    )
    if node is not None:
        stale = stale.filter(node=node)
    return stale.update(
        status=RunStatus.FAILED, finished_at=timezone.now(), result={"error": "abandoned"}
    )


def assign_queue(*, node: Node, by: Any, request: Any = None) -> tuple[AssignmentRun, bool]:
    """Ask the worker for a run of ``node`` (a county takes too long for one request).

    Idempotent: while a run of the place waits or runs, asking again returns that run and
    starts nothing (``created`` is False). With Redis the job goes on the queue at once; the
    periodic :func:`minqing.contacts.jobs.run_queued` picks up whatever waits, with or without
    Redis, so the request never runs the assignment itself.
    """
    require_manage(by, node)
    county_of(node)
    expire_stale(node)
    try:
        return _queue(node=node, by=by, request=request)
    except IntegrityError:  # the other click won (SQLite has no row lock to wait on)
        active = AssignmentRun.objects.filter(node=node, status__in=ACTIVE_RUN_STATES).first()
        if active is None:
            raise
        return active, False


def _queue(*, node: Node, by: Any, request: Any) -> tuple[AssignmentRun, bool]:
    from minqing.lib.worker import enqueue, redis_url

    with transaction.atomic():
        # Two clicks at once queue one run: the second waits here, then finds the first; the
        # constraint on active runs backs this up.
        list(Node.objects.select_for_update().filter(pk=node.pk).values_list("pk"))
        active = AssignmentRun.objects.filter(node=node, status__in=ACTIVE_RUN_STATES).first()
        if active is not None:
            return active, False
        run = AssignmentRun.objects.create(node=node, by=by, status=RunStatus.QUEUED)
        audit_record(
            action="contacts.assign_queue",
            user=by,
            request=request,
            obj=node,
            detail={"run": run.pk},
        )
        if redis_url():
            enqueue(RUN_JOB, run_id=run.pk)
    return run, True


def run_claim(run_id: int) -> AssignmentRun | None:
    """Take a queued run for this worker; None when another worker took it (or it is gone)."""
    claimed = AssignmentRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING, started_at=timezone.now()
    )
    if claimed != 1:
        return None
    return AssignmentRun.objects.select_related("node", "by").get(pk=run_id)


class _LinkWriter:
    """Writes each village's changes in a transaction of its own — in a thread with its own
    database connection while the next village is read and solved, when the run is not inside
    someone else's transaction (a county's first run writes a million links: writing them
    beside the solver instead of after it saves most of their time). SQLite's WAL lets the
    reader go on while the writer writes; the database drivers release the GIL while they work.
    """

    def __init__(self, *, by: Any, threaded: bool) -> None:
        self.by = by
        self.threaded = threaded
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None

    def __enter__(self) -> _LinkWriter:
        if self.threaded:
            self.thread = threading.Thread(target=self._work, name="assign-writer", daemon=True)
            self.thread.start()
        return self

    def put(self, village: Node, changes: tuple[list[int], list[tuple[int, int, str]]]) -> None:
        if self.error is not None:
            raise self.error
        if self.thread is None:
            _apply(village, changes, by=self.by)
        else:
            self.queue.put((village, changes))

    def _work(self) -> None:
        try:
            while True:
                item = self.queue.get()
                if item is None:
                    return
                if self.error is None:
                    try:
                        _apply(*item, by=self.by)
                    except BaseException as exc:  # handed to the caller at its next put/exit
                        self.error = exc
        finally:
            connection.close()

    def __exit__(self, *exc_info: Any) -> None:
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()
        if self.error is not None and exc_info[0] is None:
            raise self.error


def _apply(
    village: Node, changes: tuple[list[int], list[tuple[int, int, str]]], *, by: Any
) -> None:
    to_end, to_add = changes
    if not to_end and not to_add:
        return
    now = timezone.now()
    with transaction.atomic():
        # Lock the village: two runs writing the same village wait for each other
        # (PostgreSQL; SQLite writes one transaction at a time anyway). The partial unique
        # index on current links is the last word if they planned from the same state.
        list(Node.objects.select_for_update().filter(pk=village.pk).values_list("pk"))
        for start in range(0, len(to_end), 500):
            ContactLink.objects.filter(
                pk__in=to_end[start : start + 500], ended_at__isnull=True
            ).update(ended_at=now)
        _insert_links(to_add, now=now, by=by)


def _plan_village(
    village: Node,
    rules: dict[str, AssignmentRule],
    eligible: dict[str, set[int]],
    matching: _Matching,
) -> tuple[dict[str, int], list[dict[str, Any]], tuple[list[int], list[tuple[int, int, str]]]]:
    """Read one village and solve it: the counts, the shortages, and the changes to write
    (links to end, links to add). Array work throughout: a county is half a million rows."""
    grid_ids = np.array(
        Node.objects.filter(subtree_q(village.path)).order_by("path").values_list("pk", flat=True),
        dtype=np.int64,
    )
    grid_rank = np.argsort(grid_ids)

    def grid_order(node_ids: np.ndarray) -> np.ndarray:
        at = np.searchsorted(grid_ids[grid_rank], node_ids)
        return grid_rank[np.minimum(at, len(grid_ids) - 1)]

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
        link_rows: list[tuple] = []
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
        tag_pairs = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    liaisons = list(
        Liaison.objects.filter(village=village, active=True, kind__in=list(rules))
        .order_by("id")
        .values_list("id", "kind", "node_id", "latitude", "longitude", "category", "capacity")
    )
    counts: dict[str, int] = defaultdict(int)
    shortages: list[dict[str, Any]] = []
    to_end: list[int] = []
    to_add: list[tuple[int, int, str]] = []
    if not rows:
        return counts, shortages, (to_end, to_add)
    h_ids = np.array([r[0] for r in rows], dtype=np.int64)
    h_grid = grid_order(np.array([r[1] for r in rows], dtype=np.int64))
    h_lat = _floats(r[2] for r in rows)
    h_lon = _floats(r[3] for r in rows)

    def households_tagged(tag_ids: set[int]) -> np.ndarray:
        """Per household (in ``h_ids`` order): carries one of ``tag_ids``."""
        if not tag_ids or not len(tag_pairs):
            return np.zeros(len(h_ids), dtype=bool)
        hit = tag_pairs[np.isin(tag_pairs[:, 1], list(tag_ids)), 0]
        return np.isin(h_ids, hit)

    for kind, rule in rules.items():
        people = [row for row in liaisons if row[1] == kind]
        l_ids = np.array([row[0] for row in people], dtype=np.int64)
        # The current link of each household for this kind: liaison (-1: none), id, manual.
        cur_liaison = np.full(len(h_ids), -1, dtype=np.int64)
        cur_link = np.full(len(h_ids), -1, dtype=np.int64)
        cur_manual = np.zeros(len(h_ids), dtype=bool)
        mine = [r for r in link_rows if r[1] == kind]
        if mine:
            at = np.searchsorted(h_ids, np.array([r[0] for r in mine], dtype=np.int64))
            cur_link[at] = [r[2] for r in mine]
            cur_liaison[at] = [r[3] for r in mine]
            cur_manual[at] = [bool(r[4]) for r in mine]
        has_link = cur_link >= 0
        wanted = eligible[kind]
        allowed = households_tagged(wanted) if wanted else np.ones(len(h_ids), dtype=bool)
        # No longer eligible: end the engine's links (hand-set ones stay).
        to_end += cur_link[~allowed & has_link & ~cur_manual].tolist()
        manual = allowed & has_link & cur_manual
        counts["manual"] += int(manual.sum())
        fixed = np.zeros(len(people), dtype=np.int64)
        if len(people) and manual.any():
            held = cur_liaison[manual]
            known = np.isin(held, l_ids)
            np.add.at(fixed, np.searchsorted(l_ids, held[known]), 1)
        free = allowed & ~manual
        if not free.any():
            continue
        f_liaison = cur_liaison[free]
        current = np.full(len(f_liaison), -1, dtype=np.int64)
        if len(people):
            known = np.isin(f_liaison, l_ids)
            current[known] = np.searchsorted(l_ids, f_liaison[known])
        match = np.zeros(len(h_ids), dtype=np.int64)
        for bit, tag_ids, _weight in matching.by_kind.get(kind, []):
            suits = (
                households_tagged(tag_ids)
                if tag_ids
                else ~households_tagged(matching.key_tags[kind])
            )
            match |= suits.astype(np.int64) << bit
        capacity = np.array([row[6] or rule.max_load for row in people], dtype=np.int64)
        problem = engine.Problem(
            h_ids=h_ids[free],
            h_grid=h_grid[free],
            h_lat=h_lat[free],
            h_lon=h_lon[free],
            h_current=current,
            h_match=match[free],
            l_ids=l_ids,
            l_grid=grid_order(np.array([row[2] for row in people], dtype=np.int64)),
            l_lat=_floats(row[3] for row in people),
            l_lon=_floats(row[4] for row in people),
            l_category=np.array([CATEGORY_BITS.get(row[5], -1) for row in people], dtype=np.int64),
            l_min=np.maximum(rule.min_load - fixed, 0),
            l_max=np.maximum(capacity - fixed, 0),
            match_weight=matching.weights(kind),
            balance=SHARING.get(kind, 1),
        )
        solution = engine.solve(problem)
        chosen = np.full(len(solution.choice), -1, dtype=np.int64)
        picked = solution.choice >= 0
        chosen[picked] = l_ids[solution.choice[picked]]
        before = f_liaison
        linked = cur_link[free] >= 0
        kept = linked & (before == chosen)
        counts["kept"] += int(kept.sum())
        changed = linked & ~kept
        to_end += cur_link[free][changed].tolist()
        counts["moved"] += int((changed & (chosen >= 0)).sum())
        counts["ended"] += int((changed & (chosen < 0)).sum())
        new = (chosen >= 0) & ~kept
        counts["assigned"] += int(new.sum())
        to_add += [
            (h, liaison, kind)
            for h, liaison in zip(problem.h_ids[new].tolist(), chosen[new].tolist(), strict=True)
        ]
        if solution.unassigned:
            counts["unassigned"] += solution.unassigned
            if rule.required:
                shortages.append(
                    {
                        "village": village.pk,
                        "name": village.name,
                        "kind": kind,
                        "households": solution.unassigned,
                        "people": math.ceil(solution.unassigned / max(1, rule.max_load)),
                    }
                )
    return {k: v for k, v in counts.items() if v}, shortages, (to_end, to_add)


#: Kinds whose people share a village's households evenly (balanced twice as hard as group
#: leaders, who lead their own group whatever its size).
SHARING = {LiaisonKind.PARTY_MEMBER: 2, LiaisonKind.REPRESENTATIVE: 2}


#: New links after which PostgreSQL's statistics of the link table are refreshed during a run:
#: planned on an empty table's statistics, each village's read would scan every link.
ANALYZE_EVERY = 100_000


def _analyze_links() -> None:
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with connection.cursor() as cur:
            cur.execute(f"ANALYZE {connection.ops.quote_name(ContactLink._meta.db_table)}")


#: Household ids per IN (…) when reading a village's tags and links.
ID_CHUNK = 10_000


#: Rows per INSERT statement on SQLite (6 parameters each, well under its 32,766).
INSERT_ROWS = 2000


def _insert_links(rows: list[tuple[int, int, str]], *, now: Any, by: Any) -> None:
    """Write new links as plain rows: a county's first run writes a million of them, and model
    instances would cost more than the solver (COPY on PostgreSQL, executemany on SQLite)."""
    if not rows:
        return
    table = connection.ops.quote_name(ContactLink._meta.db_table)
    columns = ("household_id", "liaison_id", "kind", "manual", "started_at", "created_by_id")
    by_id = getattr(by, "pk", None)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            with cur.cursor.copy(
                f"COPY {table} ({', '.join(columns)}) FROM STDIN"  # noqa: S608 - fixed names
            ) as copy:
                for household_id, liaison_id, kind in rows:
                    copy.write_row((household_id, liaison_id, kind, False, now, by_id))
            return
        stamp = connection.ops.adapt_datetimefield_value(now)
        one = "(" + ", ".join(["%s"] * len(columns)) + ")"
        head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "  # noqa: S608 - fixed names
        for start in range(0, len(rows), INSERT_ROWS):
            chunk = rows[start : start + INSERT_ROWS]
            params: list[Any] = []
            for household_id, liaison_id, kind in chunk:
                params += (household_id, liaison_id, kind, False, stamp, by_id)
            cur.execute(head + ", ".join([one] * len(chunk)), params)


def _floats(values: Any) -> np.ndarray:
    return np.array([float(v) if v is not None else np.nan for v in values], dtype=np.float64)


def assign_start(*, node: Node, by: Any, request: Any = None) -> tuple[AssignmentRun, bool]:
    """The "run assignment" button: a village or a town runs now (seconds); a county, or
    anything larger, is queued for the worker. Returns the run and whether this call started
    it (False: a run of the place was already waiting or running)."""
    require_manage(by, node)
    if node.level in (Level.PROVINCE, Level.CITY, Level.COUNTY):
        return assign_queue(node=node, by=by, request=request)
    return assign(node=node, by=by, request=request), True
