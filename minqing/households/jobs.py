"""Background jobs of the households app, run by ``minqing worker`` (``minqing.lib.worker``).

A ledger import is written in short batches with pauses between them (so other users' writes
never wait long for SQLite's one write lock): a county's 24,000-row ledger takes minutes,
longer than a web request may run. The page's "Import" queues the ``LedgerImport``
(``ledger.importer.ledger_queue``) and returns; two ways lead to it being written:

- with Redis, ``ledger_queue`` enqueues :func:`run_import` for it at once;
- :func:`run_queued_imports`, a periodic job (``MINQING_PERIODIC_JOBS
  ["households.run_queued_imports"]``), takes whatever still waits — the only way on the
  database-loop worker, and the safety net when an enqueue to Redis was lost.

Both claim the import with a conditional UPDATE (queued → running), so whichever comes first
writes it and the other finds nothing to do: an import never runs twice. A running import whose
worker died (no progress for ``importer.STALE_RUN``) is failed here, and "Import" continues it.
"""

from __future__ import annotations

import logging

from minqing.households.ledger.importer import expire_stale, run_queued_import
from minqing.households.models import LedgerImport

log = logging.getLogger(__name__)


def run_import(ledger_import_id: int) -> dict[str, int]:
    """Write one queued import, unless another worker has taken it."""
    outcome = run_queued_import(ledger_import_id)
    return {
        "imported": int(outcome == "imported"),
        "failed": int(outcome == "failed"),
        "claimed_elsewhere": int(outcome == "claimed_elsewhere"),
    }


def run_queued_imports(limit: int = 5) -> dict[str, int]:
    """Write the oldest waiting imports (at most ``limit`` per tick), and fail running ones
    whose worker died so they can be imported again."""
    counts = {"imported": 0, "failed": 0, "claimed_elsewhere": 0, "abandoned": expire_stale()}
    waiting = list(
        LedgerImport.objects.filter(status=LedgerImport.Status.QUEUED)
        .order_by("queued_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in waiting:
        try:
            done = run_import(pk)
        except Exception:
            # The import is marked failed (its report says so); the next one goes on.
            log.exception("ledger import %s failed", pk)
            counts["failed"] += 1
            continue
        for key, n in done.items():
            counts[key] += n
    return counts
