"""What a refusal must leave as it was: every row of every table.

``with nothing_written():`` reads every row of every model before the block and again after it,
and fails naming the tables whose rows were added, removed or changed. A refusal that is itself
recorded says so: ``with nothing_written(allow={"audit.auditevent": 1}):`` expects exactly one
new audit row and nothing else. Sessions are left out (a page saves its session on every
request, refused or not).

The test databases hold a few hundred rows, so reading all of them twice costs milliseconds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from django.apps import apps
from django.db import connection, models

#: Tables every request may write whatever it answers.
IGNORED = frozenset({"sessions.session"})


def _rows(model: type[models.Model]) -> dict[Any, tuple[str, ...]]:
    """The table's rows as stored (raw SQL: sealed values are compared sealed, not decrypted
    on every reading), by primary key."""
    quote = connection.ops.quote_name
    pk = model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quote(pk)}, * FROM {quote(model._meta.db_table)}")
        return {
            row[0]: tuple(repr(bytes(v) if isinstance(v, memoryview) else v) for v in row[1:])
            for row in cursor.fetchall()
        }


def _models() -> list[type[models.Model]]:
    return [
        model
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy and model._meta.label_lower not in IGNORED
    ]


def _non_empty(found: list[type[models.Model]]) -> list[type[models.Model]]:
    """The models whose table holds a row, asked in one query (most tables of a test are
    empty: reading them one by one would cost a query each)."""
    quote = connection.ops.quote_name
    sql = " UNION ALL ".join(
        f"SELECT {i} FROM (SELECT 1 FROM {quote(m._meta.db_table)} LIMIT 1) AS t{i}"
        for i, m in enumerate(found)
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [found[i] for (i,) in cursor.fetchall()]


def _read_postgresql(found: list[type[models.Model]]) -> dict[str, dict[Any, tuple[str, ...]]]:
    """Every table in one query (``row_to_json``): a query costs a round trip of its own."""
    quote = connection.ops.quote_name
    sql = " UNION ALL ".join(
        f"SELECT {i}, t.{quote(m._meta.pk.column)}::text, row_to_json(t)::text "
        f"FROM {quote(m._meta.db_table)} AS t"
        for i, m in enumerate(found)
    )
    out: dict[str, dict[Any, tuple[str, ...]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql)
        for i, pk, row in cursor.fetchall():
            out.setdefault(found[i]._meta.label_lower, {})[pk] = (row,)
    return out


def read() -> dict[str, dict[Any, tuple[str, ...]]]:
    """Every row of every concrete, managed model, by table label and primary key (empty
    tables left out)."""
    if connection.vendor == "postgresql":
        return _read_postgresql(_models())
    return {model._meta.label_lower: _rows(model) for model in _non_empty(_models())}


def changes(
    before: Mapping[str, Mapping[Any, tuple[str, ...]]],
    after: Mapping[str, Mapping[Any, tuple[str, ...]]],
) -> dict[str, dict[str, int]]:
    """Per table, how many rows were added, removed and changed (tables with none left out)."""
    out: dict[str, dict[str, int]] = {}
    for label in sorted(set(before) | set(after)):
        old, new = before.get(label, {}), after.get(label, {})
        added = len(new.keys() - old.keys())
        removed = len(old.keys() - new.keys())
        changed = sum(1 for pk in old.keys() & new.keys() if old[pk] != new[pk])
        if added or removed or changed:
            out[label] = {
                k: v for k, v in (("added", added), ("removed", removed), ("changed", changed)) if v
            }
    return out


@contextlib.contextmanager
def nothing_written(allow: Mapping[str, int] | None = None) -> Iterator[None]:
    """Fail unless the block writes nothing (or, with ``allow``, exactly that many new rows
    in those tables, each one added and none changed or removed)."""
    before = read()
    yield
    found = changes(before, read())
    expected = {label: {"added": n} for label, n in (allow or {}).items() if n}
    assert found == expected, f"the refusal wrote {found}, expected {expected or 'nothing'}"
