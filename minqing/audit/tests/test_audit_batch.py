"""Audit rows written together (``audit_batch``) are the rows ``audit_record`` writes one by
one: signed, in order, in the caller's transaction — and none when the block fails. Their JSON
detail is inserted as VALUES rows (``RowsJSONField``) and reads back exactly."""

from __future__ import annotations

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from minqing.audit.actions import AuditAction
from minqing.audit.chain import event_mac
from minqing.audit.models import AuditEvent
from minqing.audit.services import audit_batch, audit_record

pytestmark = pytest.mark.django_db

TRICKY = {"words": 'he said "水管\\坏了"\n', "list": ["a'b", '{"x": 1}'], "n": 3}


def test_rows_of_a_batch_go_in_at_its_end_in_one_insert_and_verify(owner):
    before = AuditEvent.objects.count()
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries, audit_batch():
            for n in range(3):
                audit_record(action=AuditAction.LOGIN, user=owner, detail={**TRICKY, "n": n})
            assert AuditEvent.objects.count() == before  # nothing yet
        inserts = [q["sql"] for q in queries if q["sql"].startswith('INSERT INTO "audit_')]
        assert len(inserts) == 1
        assert "UNNEST" not in inserts[0]
    rows = list(AuditEvent.objects.order_by("pk")[before:])
    assert [r.detail for r in rows] == [{**TRICKY, "n": n} for n in range(3)]
    assert all(r.mac == event_mac(r) for r in rows)
    assert [r.username for r in rows] == ["owner"] * 3


def test_a_failing_block_writes_no_row(owner):
    before = AuditEvent.objects.count()
    with pytest.raises(ZeroDivisionError):
        with transaction.atomic(), audit_batch():
            audit_record(action=AuditAction.LOGIN, user=owner)
            1 / 0  # noqa: B018
    assert AuditEvent.objects.count() == before
    # and the next row, outside any batch, is written at once again
    audit_record(action=AuditAction.LOGIN, user=owner)
    assert AuditEvent.objects.count() == before + 1


def test_a_batch_outside_a_transaction_is_refused(monkeypatch):
    # (the test itself runs in a transaction that cannot be left: the audit table refuses
    # the flush a transactional test ends with)
    monkeypatch.setattr(connections["default"], "in_atomic_block", False)
    with pytest.raises(RuntimeError):
        with audit_batch():
            pass
