"""Writing the audit trail; verifying it is ``minqing.audit.chain`` (re-exported here).

``audit_record`` runs inside the caller's transaction: if the audit row cannot be written, the
action it records rolls back with it (docs/SECURITY-BAR.md §14). It signs the row with the audit key
and inserts it — no lock, no shared row: the worker seals rows into the chain afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import transaction
from django.utils import timezone

from minqing.audit.actions import AuditAction
from minqing.audit.chain import ChainReport, anchor_path, seal_pending, sign, verify_chain
from minqing.audit.models import AuditEvent
from minqing.lib.context import AuditContext
from minqing.lib.context import client_ip as lib_client_ip

__all__ = [
    "ChainReport",
    "anchor_path",
    "audit_batch",
    "audit_record",
    "seal_pending",
    "verify_chain",
]


def client_ip(context: Any) -> str:
    """The client address of an ``AuditContext`` or a request (``""`` for none)."""
    return lib_client_ip(context)


def audit_record(
    *,
    action: str,
    user: Any = None,
    context: AuditContext | None = None,
    obj: Any = None,
    object_type: str = "",
    object_id: str = "",
    success: bool = True,
    detail: dict[str, Any] | None = None,
    username: str = "",
) -> AuditEvent:
    """Write one signed event; raises (and so rolls back the caller) on failure.

    ``context`` says where the action came from (``AuditContext.of(request)`` in a view,
    nothing from the command line and the worker); ``user`` is who acted, if anybody.
    """
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    now = timezone.now()
    event = AuditEvent(
        # Milliseconds, as Django's serializers keep them: a dumpdata/loaddata round trip
        # must give back the signed content.
        at=now.replace(microsecond=now.microsecond // 1000 * 1000),
        user_id_value=getattr(user, "pk", None),
        username=username or (getattr(user, "username", "") if user else ""),
        ip=context.ip if context is not None else "",
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        object_repr=str(obj)[:200] if obj is not None else "",
        success=success,
        # Round-trip the detail through JSON so the MAC sees what the database will return.
        detail=json.loads(json.dumps(detail or {}, default=str)),
    )
    sign(event)
    pending = _pending.get()
    if pending is not None:
        pending.append(event)
    else:
        event.save(force_insert=True)
    return event


_pending: ContextVar[list[AuditEvent] | None] = ContextVar("audit_pending", default=None)


@contextmanager
def audit_batch() -> Iterator[None]:
    """Inside a transaction: the audit rows of the block are written together at its end, in
    one INSERT (a phone's sync takes several steps, each with its row). Each row is signed as
    it is made; if the block raises, none is written, as the transaction rolls back anyway.
    Rows made in the block have no ``pk`` until its end. Nested blocks write at the outer end."""
    if _pending.get() is not None:
        yield
        return
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_batch() needs a transaction: its rows go in with the block's")
    rows: list[AuditEvent] = []
    token = _pending.set(rows)
    try:
        yield
    finally:
        _pending.reset(token)
    if rows:
        AuditEvent.objects.bulk_create(rows, batch_size=500)


def record_trip(*, name: str, limit: Any, user: Any, context: AuditContext | None) -> None:
    """A rate limit consumed with ``audit=True`` tripped (``lib.ratelimit.on_trip``): one
    ``rate_limited`` row per window, in the caller's transaction like any audit row."""
    audit_record(
        action=AuditAction.RATE_LIMITED,
        user=user,
        context=context,
        success=False,
        detail={"limit": name, "count": limit.count, "seconds": limit.seconds},
    )
