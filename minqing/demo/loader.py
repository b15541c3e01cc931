"""Bulk loading for the demo builder: raw multi-row inserts, COPY, deferred index builds.

Everything here runs inside the caller's transaction, so a failure leaves the database as it was.
Indexes dropped for the load are re-created from their own saved definitions before the
transaction commits (a unique index that no longer holds makes the whole build roll back).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.management.color import no_style
from django.db import connection
from django.db.models import Model

#: Tables whose secondary indexes are worth building after the load instead of during it.
BIG_TABLES = ("households_household", "households_resident", "households_household_tags")
#: The same for the issue data, loaded after the households (``minqing.demo.issues``).
ISSUE_TABLES = (
    "issues_issue",
    "issues_issueevent",
    "issues_issuereporter",
    "issues_issueterm",
)


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


class Loader:
    """Writes rows with the fastest plain means each database offers."""

    def __init__(self, *, defer_indexes: bool) -> None:
        self.vendor = connection.vendor
        self.defer_indexes = defer_indexes
        self._saved_indexes: list[tuple[str, str, str]] = []  # (table, name, CREATE statement)
        self._saved_fks: list[tuple[str, str, str]] = []  # (table, name, definition)
        self._pragmas: dict[str, Any] = {}
        self._journal = ""
        self._types: dict[tuple[str, tuple[str, ...]], list[int]] = {}

    # -- lifecycle ---------------------------------------------------------------------------
    def tune(self) -> None:
        """Connection settings for the load; call outside any transaction (SQLite insists)."""
        if self.vendor != "sqlite" or connection.in_atomic_block:
            return
        with connection.cursor() as cur:
            # Restored by restore_settings(): fewer fsyncs, a bigger page cache and in-memory
            # sort space for the index builds. The load is a single transaction, so turning
            # off the fsyncs only matters if the machine itself crashes during the build.
            for pragma in ("synchronous", "cache_size", "temp_store", "threads"):
                cur.execute(f"PRAGMA {pragma}")
                self._pragmas[pragma] = cur.fetchone()[0]
            # A fresh database has no pages to protect: in rollback-journal mode new pages are
            # written once, where WAL writes them twice (log, then checkpoint). WAL comes back
            # in restore_settings(); if another connection holds the file, the switch is refused
            # and the build simply stays in WAL.
            cur.execute("PRAGMA journal_mode")
            self._journal = cur.fetchone()[0]
            if self._journal == "wal":
                cur.execute("PRAGMA journal_mode=DELETE")
            cur.execute("PRAGMA synchronous=OFF")
            cur.execute("PRAGMA cache_size=-1000000")
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.execute(f"PRAGMA threads={min(4, os.cpu_count() or 1)}")  # parallel index sorts

    def start(self) -> None:
        """Inside the build's transaction: session settings, and drop the deferred indexes of
        every table the build loads (PostgreSQL refuses to drop a foreign key to a table that
        already has rows waiting for their deferred checks, so all of them go now)."""
        with connection.cursor() as cur:
            if self.vendor == "postgresql":
                cur.execute("SET LOCAL synchronous_commit = off")
                cur.execute("SET LOCAL maintenance_work_mem = '512MB'")
            if self.defer_indexes:
                self._drop_indexes(cur, (*BIG_TABLES, *ISSUE_TABLES))

    def finish(self, tables: Sequence[str] | None = None) -> None:
        """Re-create the dropped indexes and foreign keys (of ``tables``, or all)."""
        now = [x for x in self._saved_indexes if tables is None or x[0] in tables]
        fks = [x for x in self._saved_fks if tables is None or x[0] in tables]
        with connection.cursor() as cur:
            for _table, _name, statement in now:
                cur.execute(statement)
            for table, name, definition in fks:
                cur.execute(
                    f"ALTER TABLE {_quote(table)} ADD CONSTRAINT {_quote(name)} {definition}"
                )
        self._saved_indexes = [x for x in self._saved_indexes if x not in now]
        self._saved_fks = [x for x in self._saved_fks if x not in fks]

    def restore_settings(self) -> None:
        """Put the connection's PRAGMAs back (SQLite; PostgreSQL used SET LOCAL)."""
        if self.vendor != "sqlite" or not self._pragmas:
            return
        with connection.cursor() as cur:
            for pragma, value in self._pragmas.items():
                cur.execute(f"PRAGMA {pragma}={int(value)}")
            if self._journal == "wal":
                cur.execute("PRAGMA journal_mode=WAL")
        self._pragmas.clear()

    def analyze(self) -> None:
        """Fresh planner statistics for the loaded tables."""
        with connection.cursor() as cur:
            if self.vendor == "sqlite":
                # Full statistics (about a second for the 谯城区 county): with sampled ones
                # the planner misjudges prefix ranges on columns with repeated values.
                cur.execute("ANALYZE")
            elif self.vendor == "postgresql":
                for table in ("org_node", *BIG_TABLES, *ISSUE_TABLES):
                    cur.execute(f"ANALYZE {_quote(table)}")
                if not connection.in_atomic_block:
                    # The visibility map lets index-only scans skip the table: the similar-issue
                    # lookup's postings, the dispatch board's counts (autovacuum would set it
                    # some minutes after a bulk load; the bench measures right away).
                    for table in ("issues_issueterm", "issues_issue"):
                        cur.execute(f"VACUUM {_quote(table)}")

    # -- indexes -----------------------------------------------------------------------------
    def _drop_indexes(self, cur: Any, tables: Sequence[str]) -> None:
        indexes: list[tuple[str, str, str]] = []
        fks: list[tuple[str, str, str]] = []
        if self.vendor == "sqlite":
            for table in tables:
                cur.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                    "AND tbl_name = %s AND sql IS NOT NULL",
                    [table],
                )
                indexes += [(table, name, sql) for name, sql in cur.fetchall()]
        elif self.vendor == "postgresql":
            for table in tables:
                # Plain indexes only: primary keys and unique constraints stay.
                cur.execute(
                    "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
                    "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
                    "WHERE t.relname = %s AND t.relnamespace = current_schema()::regnamespace "
                    "AND NOT x.indisprimary AND NOT EXISTS "
                    "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)",
                    [table],
                )
                indexes += [(table, name, sql) for name, sql in cur.fetchall()]
                # Foreign keys: one validating join at the end beats a deferred check per row.
                cur.execute(
                    "SELECT c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
                    "JOIN pg_class t ON t.oid = c.conrelid WHERE t.relname = %s "
                    "AND t.relnamespace = current_schema()::regnamespace AND c.contype = 'f'",
                    [table],
                )
                fks += [(table, name, d) for name, d in cur.fetchall()]
        for _table, name, _statement in indexes:
            cur.execute(f"DROP INDEX {_quote(name)}")
        for table, name, _definition in fks:
            cur.execute(f"ALTER TABLE {_quote(table)} DROP CONSTRAINT {_quote(name)}")
        self._saved_indexes += indexes
        self._saved_fks += fks

    # -- rows --------------------------------------------------------------------------------
    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self.vendor == "postgresql":
            self._copy(table, columns, rows)
            return
        cols = ", ".join(_quote(c) for c in columns)
        marks = ", ".join(["?"] * len(columns))
        sql = f"INSERT INTO {_quote(table)} ({cols}) VALUES ({marks})"  # noqa: S608 - our names
        raw = connection.connection
        if self.vendor == "sqlite":
            raw.executemany(sql, rows)
        else:
            with connection.cursor() as cur:
                cur.executemany(sql.replace("?", "%s"), rows)

    def _copy(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Binary COPY: about three times faster than text COPY for these rows (no hex bytea)."""
        cols = ", ".join(_quote(c) for c in columns)
        types = self._column_types(table, columns)
        sql = f"COPY {_quote(table)} ({cols}) FROM STDIN (FORMAT BINARY)"
        with connection.cursor() as cur:
            with cur.cursor.copy(sql) as copy:
                copy.set_types(types)
                for row in rows:
                    copy.write_row(row)

    def _column_types(self, table: str, columns: Sequence[str]) -> list[int]:
        key = (table, tuple(columns))
        if key not in self._types:
            with connection.cursor() as cur:
                cur.execute(
                    "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = "
                    "%s::regclass AND attnum > 0 AND NOT attisdropped",
                    [table],
                )
                oids = dict(cur.fetchall())
            self._types[key] = [int(oids[c]) for c in columns]
        return self._types[key]

    def update_counts(self, counts: Sequence[tuple[int, int, int]]) -> None:
        """(household_count, resident_count, node id) for each node."""
        with connection.cursor() as cur:
            cur.executemany(
                "UPDATE org_node SET household_count = %s, resident_count = %s WHERE id = %s",
                list(counts),
            )

    @staticmethod
    def reset_sequences(models: Sequence[type[Model]]) -> None:
        """After inserts with explicit ids, make the next automatic id follow them."""
        statements = connection.ops.sequence_reset_sql(no_style(), list(models))
        if statements:
            with connection.cursor() as cur:
                for sql in statements:
                    cur.execute(sql)


def max_id(table: str) -> int:
    with connection.cursor() as cur:
        cur.execute(f"SELECT MAX(id) FROM {_quote(table)}")  # noqa: S608 - a table name we own
        value = cur.fetchone()[0]
    return int(value or 0)
