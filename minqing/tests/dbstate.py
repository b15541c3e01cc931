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
from django.db import models

#: Tables every request may write whatever it answers.
IGNORED = frozenset({"sessions.session"})


def _rows(model: type[models.Model]) -> dict[Any, tuple[str, ...]]:
    fields = [f.attname for f in model._meta.concrete_fields]
    pk = model._meta.pk.attname
    at = fields.index(pk)
    return {
        row[at]: tuple(repr(value) for value in row)
        for row in model._base_manager.order_by().values_list(*fields)
    }


def read() -> dict[str, dict[Any, tuple[str, ...]]]:
    """Every row of every concrete, managed model, by table label and primary key."""
    return {
        model._meta.label_lower: _rows(model)
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy and model._meta.label_lower not in IGNORED
    }


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
