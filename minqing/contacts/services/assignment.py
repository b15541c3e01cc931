"""划片包干 — the assignment run: the engine over every village of a place, queued or inline."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.models import User
from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_record
from minqing.contacts.errors import ContactErrorCode
from minqing.contacts.models import ACTIVE_RUN_STATES, AssignmentRun, RunStatus
from minqing.contacts.permissions import require_manage
from minqing.contacts.selectors.network import village_of
from minqing.contacts.services.link_writer import ANALYZE_EVERY, LinkWriter, analyze_links
from minqing.contacts.services.rules import rules_for
from minqing.contacts.services.village_plan import Matching, plan_village
from minqing.lib.context import AuditContext
from minqing.org.models import Level, Node, subtree_q
from minqing.org.selectors import county_of

log = logging.getLogger(__name__)

#: The dotted path of the worker job that runs a queued run (``minqing.contacts.jobs``).
RUN_JOB = "minqing.contacts.jobs.run_assignment"
#: A run still "running" after this long lost its worker (killed, machine restarted).
STALE_RUN = dt.timedelta(hours=3)


def assign(
    *,
    node: Node,
    by: User | None = None,
    context: AuditContext | None = None,
    run: AssignmentRun | None = None,
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
    matching = Matching(county)
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
        with LinkWriter(by=by, threaded=not connection.in_atomic_block) as writer:
            for village in villages.only("id", "name", "path"):
                plan = plan_village(village, rules, eligible, matching)
                writer.put(village, plan)
                for key, value in plan.counts.items():
                    totals[key] += value
                shortages.extend(plan.shortages)
                written += len(plan.to_add)
                if written >= ANALYZE_EVERY:
                    analyze_links()
                    written = 0
        if written >= ANALYZE_EVERY // 10:
            analyze_links()
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
            action=AuditAction.CONTACTS_ASSIGN,
            user=by,
            context=context,
            obj=node,
            detail={k: v for k, v in run.result.items() if k not in ("shortages", "kinds")}
            | {"run": run.pk, "short_villages": len({s["village"] for s in shortages})},
        )
    return run


def _run_open(*, node: Node, by: User | None) -> AssignmentRun:
    """A new running run of ``node``, or a clear refusal when one is under way already."""
    expire_stale(node)
    try:
        with transaction.atomic():
            return AssignmentRun.objects.create(node=node, by=by, status=RunStatus.RUNNING)
    except IntegrityError:
        raise ValidationError(
            _("An assignment run of this place is under way already; wait for it to finish."),
            code=ContactErrorCode.RUN_UNDER_WAY,
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


def assign_queue(
    *, node: Node, by: User, context: AuditContext | None = None
) -> tuple[AssignmentRun, bool]:
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
        return _queue(node=node, by=by, context=context)
    except IntegrityError:  # the other click won (SQLite has no row lock to wait on)
        active = AssignmentRun.objects.filter(node=node, status__in=ACTIVE_RUN_STATES).first()
        if active is None:
            raise
        return active, False


def _queue(*, node: Node, by: User, context: AuditContext | None) -> tuple[AssignmentRun, bool]:
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
            action=AuditAction.CONTACTS_ASSIGN_QUEUE,
            user=by,
            context=context,
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


def assign_start(
    *, node: Node, by: User, context: AuditContext | None = None
) -> tuple[AssignmentRun, bool]:
    """The "run assignment" button: a village or a town runs now (seconds); a county, or
    anything larger, is queued for the worker. Returns the run and whether this call started
    it (False: a run of the place was already waiting or running)."""
    require_manage(by, node)
    if node.level in (Level.PROVINCE, Level.CITY, Level.COUNTY):
        return assign_queue(node=node, by=by, context=context)
    return assign(node=node, by=by, context=context), True
