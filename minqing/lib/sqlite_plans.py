"""Telling SQLite how to read a table where its planner, which keeps no histogram, reads a wide
range and sorts it (a county-wide scope of 150,000 issues). PostgreSQL chooses well from its
statistics, so there the queryset runs as it is."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import QuerySet


def rows_reading(page: QuerySet, how: str) -> list[tuple[Any, ...]]:
    """The rows of ``page`` (a ``values_list`` queryset), its table read ``how`` on SQLite:
    ``'INDEXED BY "name"'`` to walk one index, ``"NOT INDEXED"`` to walk the primary key."""
    if connection.vendor != "sqlite":
        return [row if isinstance(row, tuple) else (row,) for row in page]
    try:
        sql, params = page.query.sql_with_params()
    except EmptyResultSet:  # a scope that matches nothing (a user with no place)
        return []
    table = connection.ops.quote_name(page.model._meta.db_table)
    sql = sql.replace(f"FROM {table}", f"FROM {table} {how}", 1)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()]
