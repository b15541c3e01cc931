"""划片包干 — the assignment run: the engine over every village of a place, queued or inline."""

from __future__ import annotations

import datetime as dt
import logging
import math
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
        for village in villages.only("id", "name", "path"):
            with transaction.atomic():
                counts, short = _assign_village(village, rules, eligible, matching, by=by)
            for key, value in counts.items():
                totals[key] += value
            shortages.extend(short)
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


def _assign_village(
    village: Node,
    rules: dict[str, AssignmentRule],
    eligible: dict[str, set[int]],
    matching: _Matching,
    *,
    by: Any,
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    # Lock the village: two runs over the same village wait for each other (PostgreSQL; SQLite
    # writes one transaction at a time anyway).
    list(Node.objects.select_for_update().filter(pk=village.pk).values_list("pk"))
    grids = {
        pk: i
        for i, pk in enumerate(
            Node.objects.filter(subtree_q(village.path))
            .order_by("path")
            .values_list("pk", flat=True)
        )
    }
    # Plain SQL for the three big reads: half a million households go through here, and the
    # ORM's row converters (Decimal coordinates, booleans) would cost more than the solver.
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
        cur.execute(
            f"SELECT t.household_id, t.householdtag_id FROM {through} t "  # noqa: S608
            f"JOIN {hh} h ON h.id = t.household_id WHERE h.village_id = %s",
            [village.pk],
        )
        tags: dict[int, set[int]] = defaultdict(set)
        for household_id, tag_id in cur.fetchall():
            tags[household_id].add(tag_id)
        cur.execute(
            f"SELECT l.id, l.household_id, l.kind, l.liaison_id, l.manual "  # noqa: S608
            f"FROM {link_table} l JOIN {hh} h ON h.id = l.household_id "
            "WHERE h.village_id = %s AND l.ended_at IS NULL",
            [village.pk],
        )
        links: dict[tuple[int, str], tuple[int, int, bool]] = {
            (household_id, kind): (link_id, liaison_id, bool(manual))
            for link_id, household_id, kind, liaison_id, manual in cur.fetchall()
        }
    liaisons = list(
        Liaison.objects.filter(village=village, active=True, kind__in=list(rules))
        .order_by("id")
        .values_list("id", "kind", "node_id", "latitude", "longitude", "category", "capacity")
    )
    counts: dict[str, int] = defaultdict(int)
    shortages: list[dict[str, Any]] = []
    now = timezone.now()
    to_end: list[int] = []
    to_add: list[tuple[int, int, str]] = []
    for kind, rule in rules.items():
        people = [row for row in liaisons if row[1] == kind]
        index = {row[0]: i for i, row in enumerate(people)}
        wanted = eligible[kind]
        fixed = np.zeros(len(people), dtype=np.int64)
        free: list[tuple[int, int, Any, Any]] = []
        currents: list[int] = []
        for household_id, node_id, lat, lon in rows:
            link = links.get((household_id, kind))
            if wanted and not tags[household_id] & wanted:
                if link and not link[2]:
                    to_end.append(link[0])  # no longer eligible
                continue
            if link and link[2]:
                counts["manual"] += 1
                if link[1] in index:
                    fixed[index[link[1]]] += 1
                continue
            free.append((household_id, node_id, lat, lon))
            currents.append(index.get(link[1], -1) if link else -1)
        if not free:
            continue
        capacity = np.array([row[6] or rule.max_load for row in people], dtype=np.int64)
        problem = engine.Problem(
            h_ids=np.array([f[0] for f in free], dtype=np.int64),
            h_grid=np.array([grids.get(f[1], 0) for f in free], dtype=np.int64),
            h_lat=_floats(f[2] for f in free),
            h_lon=_floats(f[3] for f in free),
            h_current=np.array(currents, dtype=np.int64),
            h_match=np.array([matching.mask(kind, tags[f[0]]) for f in free], dtype=np.int64),
            l_ids=np.array([row[0] for row in people], dtype=np.int64),
            l_grid=np.array([grids.get(row[2], 0) for row in people], dtype=np.int64),
            l_lat=_floats(row[3] for row in people),
            l_lon=_floats(row[4] for row in people),
            l_category=np.array([CATEGORY_BITS.get(row[5], -1) for row in people], dtype=np.int64),
            l_min=np.maximum(rule.min_load - fixed, 0),
            l_max=np.maximum(capacity - fixed, 0),
            match_weight=matching.weights(kind),
        )
        solution = engine.solve(problem)
        for i, household_id in enumerate(problem.h_ids.tolist()):
            chosen = int(solution.choice[i])
            link = links.get((household_id, kind))
            new_liaison = int(problem.l_ids[chosen]) if chosen >= 0 else None
            if link and link[1] == new_liaison:
                counts["kept"] += 1
                continue
            if link:
                to_end.append(link[0])
                counts["moved" if new_liaison else "ended"] += 1
            if new_liaison is not None:
                counts["assigned"] += 1
                to_add.append((household_id, new_liaison, kind))
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
    for start in range(0, len(to_end), 500):
        ContactLink.objects.filter(pk__in=to_end[start : start + 500]).update(ended_at=now)
    _insert_links(to_add, now=now, by=by)
    return counts, shortages


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
        cur.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - fixed names
            f"VALUES ({', '.join(['%s'] * len(columns))})",
            [(h, liaison, kind, False, stamp, by_id) for h, liaison, kind in rows],
        )


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
