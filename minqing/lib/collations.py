"""Columns that compare byte-wise on both databases, declared on the field.

Prefix search and subtree ranges read one plain b-tree index only when the column compares by
byte (code point): under a linguistic collation PostgreSQL cannot turn ``LIKE 'x%'`` into an
index range, ``ORDER BY`` walks the index filtering the whole table, and "/" is ignored at the
first level, so "/1/7/5/" sorts after "/1/70" and a subtree range misses rows.

Collation names are not portable (Django's docs say so of ``Field.db_collation``): PostgreSQL
calls the byte-wise one "C"; SQLite knows only BINARY, NOCASE and RTRIM and refuses a table
that names any other. SQLite's default, BINARY, already compares the UTF-8 bytes, which is what
"C" means on PostgreSQL. So :class:`PostgresCollatedCharField` keeps ``db_collation`` in the
field (the migration state records it and ``makemigrations`` sees a change to it) and gives the
column that collation on PostgreSQL only; on SQLite the column keeps its byte-wise default.
"""

from __future__ import annotations

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

#: PostgreSQL's byte-wise collation (SQLite's default BINARY compares the same way).
BYTEWISE = "C"


class PostgresCollatedCharField(models.CharField):
    """A ``CharField`` whose ``db_collation`` applies on PostgreSQL only."""

    def db_parameters(self, connection: BaseDatabaseWrapper) -> dict[str, str | None]:
        params = super().db_parameters(connection)
        if connection.vendor != "postgresql":
            params["collation"] = None
        return params
