"""What an attacker with database access (but not the audit key) does to the trail, in raw SQL."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from typing import Any

from django.db import connection

from minqing.audit import chain
from minqing.audit.keys import AuditKeys
from minqing.audit.models import AuditEvent

TABLES = ("audit_auditevent", "audit_auditseal")


def drop_triggers(cursor: Any) -> None:
    for table in TABLES:
        if connection.vendor == "sqlite":
            cursor.execute(f"DROP TRIGGER {table}_no_update")
            cursor.execute(f"DROP TRIGGER {table}_no_delete")
        else:
            cursor.execute(f"DROP TRIGGER {table}_no_change ON {table}")
            cursor.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")


def raw_sql(run: Callable[[Any], None]) -> None:
    """Drop the append-only triggers, then run raw SQL (the test's transaction puts the
    triggers back when it rolls back)."""
    with connection.cursor() as cursor:
        drop_triggers(cursor)
        run(cursor)


def delete_rows(cursor: Any, ids: list[int]) -> None:
    """Delete audit rows and their seals."""
    marks = ", ".join(["%s"] * len(ids))
    cursor.execute(f"DELETE FROM audit_auditseal WHERE event_id IN ({marks})", ids)
    cursor.execute(f"DELETE FROM audit_auditevent WHERE id IN ({marks})", ids)


def rechain(cursor: Any, how: str) -> None:
    """Re-sign every row and rebuild every seal, positions 1…n in id order, as the attack on
    the old chain did: with plain SHA-256 (``how="sha256"``), or with the code's own HMAC
    under a key of the attacker's (``how="guessed_key"``)."""
    keys = AuditKeys(keys={1: os.urandom(32)}, current=1)

    def digest(message: str) -> str:
        if how == "sha256":
            return hashlib.sha256(message.encode()).hexdigest()
        return keys.mac(1, message.encode())

    cursor.execute("DELETE FROM audit_auditseal")
    prev = chain.GENESIS
    for position, event in enumerate(AuditEvent.objects.order_by("id"), 1):
        fields = json.dumps(chain.event_fields(event), sort_keys=True, ensure_ascii=False)
        if how == "guessed_key":
            event.key_id = 1
            mac = chain.event_mac(event, keys)
        else:
            mac = digest(fields + event.nonce)
        cursor.execute("UPDATE audit_auditevent SET mac = %s WHERE id = %s", [mac, event.pk])
        seal = digest(f"{prev}|{position}|{event.pk}|{mac}")
        cursor.execute(
            "INSERT INTO audit_auditseal (position, event_id, key_id, mac, sealed_at) "
            "VALUES (%s, %s, 1, %s, %s)",
            [position, event.pk, seal, event.at],
        )
        prev = seal
