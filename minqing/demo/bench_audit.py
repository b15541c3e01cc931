"""Bench row of the audit trail (no global lock on audited writes): audited transactions side
by side.

Each of 8 threads runs transactions that write one audit row and then do 20 ms of other work
before committing, as a visit does after its audit row. The old chain locked one head row from
the audit row to the commit, so they ran one at a time (≤ 50 per second whatever the server);
signed rows sealed later take no lock, so they overlap. The reference is that one-at-a-time
rate. PostgreSQL only: SQLite has one writer at a time anyway.
"""

from __future__ import annotations

import threading
import time

from django.db import connection, connections, transaction

from minqing.audit.services import audit_record, seal_pending
from minqing.demo.bench import Row

THREADS = 8
EACH = 25
WORK_SECONDS = 0.02
TARGET = 2  # × the one-at-a-time rate (the old lock measured 0.6×)


def lock_rows() -> list[Row]:
    label = (
        f"Audited transactions side by side ({THREADS} threads × {EACH}, "
        f"{WORK_SECONDS * 1000:.0f} ms of work after the audit row)"
    )
    if connection.vendor != "postgresql":
        return [Row(label, "not measured: SQLite has one writer at a time", "", "", None)]
    if connection.in_atomic_block:
        return [Row(label, "not measured: the data is inside a transaction", "", "", None)]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(EACH):
                with transaction.atomic():
                    audit_record(action="bench.audit", username="bench")
                    time.sleep(WORK_SECONDS)
        except BaseException as exc:  # reported in the row
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    tick = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rate = THREADS * EACH / (time.perf_counter() - tick)
    tick = time.perf_counter()
    sealed = seal_pending()["sealed"]
    seal_rate = sealed / (time.perf_counter() - tick)
    serial = 1 / WORK_SECONDS
    measured = f"failed: {errors[0]!r}" if errors else f"{rate:,.0f} transactions/s"
    measured += f" · the worker then sealed {sealed:,} rows at {seal_rate:,.0f} rows/s"
    return [
        Row(
            label,
            measured,
            f"one at a time (the old global lock): ≤ {serial:.0f} transactions/s",
            f"≥ {TARGET}× one at a time",
            not errors and rate >= TARGET * serial,
        )
    ]
