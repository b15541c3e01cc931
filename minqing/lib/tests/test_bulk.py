"""``lib.bulk.insert_rows``: what bulk_create would write, in one statement, keys in order."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from minqing.audit.models import AuditEvent
from minqing.lib.bulk import insert_rows

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 12, 31, 23, 59, 59, tzinfo=dt.UTC)

# JSON a literal quoter gets wrong: quotes, backslashes, braces, commas, NUL-free unicode,
# nesting, an empty object, numbers and booleans.
DETAILS = [
    {"text": 'say "否", then \\ and {a,b}', "n": 3, "ok": True, "nested": [1, [2, {"x": None}]]},
    {},
    {"饮水": ["否", "不清楚"], "decimal": "1.50", "comma": "a,b", "brace": "}{"},
]


def _events() -> list[AuditEvent]:
    return [
        AuditEvent(
            at=AT + dt.timedelta(seconds=i),
            user_id_value=None if i == 1 else 100 + i,
            username=f"user{i}",
            action="test.bulk",
            object_repr="引号 ' and \"" if i == 0 else "",
            success=i != 2,
            detail=detail,
            key_id=i,
            mac=f"mac-{i}",
        )
        for i, detail in enumerate(DETAILS)
    ]


def test_rows_are_written_exactly_and_get_their_keys_in_order():
    events = _events()
    with CaptureQueriesContext(connection) as queries:
        returned = insert_rows(events)
    assert returned == events
    assert len(queries) == 1
    if connection.vendor == "postgresql":
        assert "UNNEST" in queries[0]["sql"]
    keys = [e.pk for e in events]
    assert all(k is not None for k in keys) and keys == sorted(keys)
    rows = {
        r["mac"]: r
        for r in AuditEvent.objects.filter(pk__in=keys).values(
            "pk",
            "mac",
            "at",
            "user_id_value",
            "username",
            "object_repr",
            "success",
            "detail",
            "key_id",
        )
    }
    for i, e in enumerate(events):
        row = rows[f"mac-{i}"]
        assert row["pk"] == e.pk
        assert row["at"] == AT + dt.timedelta(seconds=i)
        assert row["user_id_value"] == (None if i == 1 else 100 + i)
        assert row["username"] == f"user{i}"
        assert row["object_repr"] == ("引号 ' and \"" if i == 0 else "")
        assert row["success"] is (i != 2)
        assert row["detail"] == DETAILS[i]
        assert row["key_id"] == i
    assert all(not e._state.adding for e in events)


def test_the_same_rows_as_bulk_create():
    mine = insert_rows(_events())
    theirs = _events()
    for e in theirs:
        e.mac += "-b"
    AuditEvent.objects.bulk_create(theirs)
    fields = ["at", "user_id_value", "username", "object_repr", "success", "detail", "key_id"]
    a = list(AuditEvent.objects.filter(pk__in=[e.pk for e in mine]).values(*fields))
    b = list(AuditEvent.objects.filter(mac__endswith="-b").values(*fields))
    assert a == b


def test_a_failing_row_writes_none():
    AuditEvent.objects.bulk_create([AuditEvent(at=AT, action="x", mac="mac-1")])
    before = AuditEvent.objects.count()
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(_events())  # mac-1 is taken
    assert AuditEvent.objects.count() == before


def test_nothing_to_insert_sends_nothing():
    with CaptureQueriesContext(connection) as queries:
        assert insert_rows([]) == []
    assert len(queries) == 0
