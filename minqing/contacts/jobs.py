"""Background jobs of the contact network, run by ``minqing worker`` (``minqing.lib.worker``).

A county-wide assignment run takes longer than a request may, so the "run assignment" button
of a county queues an :class:`AssignmentRun` and returns. Two ways lead to it being run:

- with Redis, ``services.assign_queue`` enqueues :func:`run_assignment` for the run at once;
- :func:`run_queued`, a periodic job (``MINQING_PERIODIC_JOBS["contacts.run_queued"]``), runs
  whatever still waits — the only way on the database-loop worker, and the safety net when an
  enqueue to Redis was lost.

Both claim the run with a conditional UPDATE (queued → running), so whichever comes first runs
it and the other finds nothing to do: a run never runs twice.
"""

from __future__ import annotations

import logging

from minqing.contacts.models import AssignmentRun, RunStatus
from minqing.contacts.services import assign, expire_stale, run_claim

log = logging.getLogger(__name__)


def run_assignment(run_id: int) -> dict[str, int]:
    """Run one queued run, unless another worker has taken it."""
    run = run_claim(run_id)
    if run is None:
        return {"ran": 0, "claimed_elsewhere": 1}
    assign(node=run.node, by=run.by, run=run)
    return {"ran": 1, "claimed_elsewhere": 0}


def run_queued(limit: int = 10) -> dict[str, int]:
    """Run the oldest waiting runs (at most ``limit`` per tick), and fail runs whose worker
    died mid-way so their place can be run again."""
    counts = {"ran": 0, "claimed_elsewhere": 0, "failed": 0, "abandoned": expire_stale()}
    waiting = list(
        AssignmentRun.objects.filter(status=RunStatus.QUEUED)
        .order_by("started_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    for run_id in waiting:
        try:
            done = run_assignment(run_id)
        except Exception:
            # assign() has marked the run failed and logged why; the next run goes on.
            counts["failed"] += 1
            continue
        counts["ran"] += done["ran"]
        counts["claimed_elsewhere"] += done["claimed_elsewhere"]
    return counts
