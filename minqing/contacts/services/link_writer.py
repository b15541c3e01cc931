"""Writing an assignment run's changes: each village's links ended and added in a transaction
of its own, beside the solver when the run may use a thread.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
from types import TracebackType
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from minqing.accounts.models import User
from minqing.contacts.models import ContactLink
from minqing.contacts.services.village_plan import NewLink, VillagePlan
from minqing.org.models import Node

#: New links after which PostgreSQL's statistics of the link table are refreshed during a run:
#: planned on an empty table's statistics, each village's read would scan every link.
ANALYZE_EVERY = 100_000


def analyze_links() -> None:
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with connection.cursor() as cur:
            cur.execute(f"ANALYZE {connection.ops.quote_name(ContactLink._meta.db_table)}")


#: Rows per INSERT statement on SQLite (6 parameters each, well under its 32,766).
INSERT_ROWS = 2000


def insert_links(rows: list[NewLink], *, now: dt.datetime, by: User | None) -> None:
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


class LinkWriter:
    """Writes each village's changes in a transaction of its own — in a thread with its own
    database connection while the next village is read and solved, when the run is not inside
    someone else's transaction (a county's first run writes a million links: writing them
    beside the solver instead of after it saves most of their time). SQLite's WAL lets the
    reader go on while the writer writes; the database drivers release the GIL while they work.
    """

    def __init__(self, *, by: User | None, threaded: bool) -> None:
        self.by = by
        self.threaded = threaded
        self.queue: queue.Queue[tuple[Node, VillagePlan] | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None

    def __enter__(self) -> LinkWriter:
        if self.threaded:
            self.thread = threading.Thread(target=self._work, name="assign-writer", daemon=True)
            self.thread.start()
        return self

    def put(self, village: Node, plan: VillagePlan) -> None:
        if self.error is not None:
            raise self.error
        if self.thread is None:
            apply_plan(village, plan, by=self.by)
        else:
            self.queue.put((village, plan))

    def _work(self) -> None:
        try:
            while True:
                item = self.queue.get()
                if item is None:
                    return
                if self.error is None:
                    try:
                        apply_plan(*item, by=self.by)
                    except BaseException as exc:  # handed to the caller at its next put/exit
                        self.error = exc
        finally:
            connection.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()
        if self.error is not None and exc_type is None:
            raise self.error


def apply_plan(village: Node, plan: VillagePlan, *, by: User | None) -> None:
    """End the village's links ``plan.to_end`` and add ``plan.to_add``, in one transaction."""
    to_end, to_add = plan.to_end, plan.to_add
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
        insert_links(to_add, now=now, by=by)
