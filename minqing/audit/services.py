"""Writing the audit trail; verifying it is ``minqing.audit.chain`` (re-exported here).

``audit_record`` runs inside the caller's transaction: if the audit row cannot be written, the
action it records rolls back with it (docs/SECURITY-BAR.md §14). It signs the row with the audit key
and inserts it — no lock, no shared row: the worker seals rows into the chain afterwards.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction
from django.utils import timezone

from minqing.audit.chain import ChainReport, anchor_path, seal_pending, sign, verify_chain
from minqing.audit.models import AuditEvent
from minqing.lib import ratelimit
from minqing.lib.context import AuditContext
from minqing.lib.context import client_ip as lib_client_ip

__all__ = [
    "ChainReport",
    "anchor_path",
    "audit_export",
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
    request: Any = None,
    obj: Any = None,
    object_type: str = "",
    object_id: str = "",
    success: bool = True,
    detail: dict[str, Any] | None = None,
    username: str = "",
) -> AuditEvent:
    """Write one signed event; raises (and so rolls back the caller) on failure.

    ``context`` says where the action came from (``AuditContext.of(request)`` in a view);
    ``request`` is accepted from views that record their own events (login, logout).
    """
    if context is None and request is not None:
        context = AuditContext.of(request)
    if user is None and request is not None and getattr(request, "user", None) is not None:
        user = request.user if request.user.is_authenticated else None
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
    event.save(force_insert=True)
    return event


def audit_export(*, by: Any, audit_filter: Any, request: Any = None) -> tuple[Any, str]:
    """The audit events ``audit_filter`` selects as CSV chunks (UTF-8 with BOM, for Excel) and
    the file name. The auditor alone may (``PermissionDenied`` otherwise, nothing written); the
    export is itself audited (``audit.export``: the filter and the number of rows), and the file
    names who exported it and when. Rows written after the export began are not in it."""
    ratelimit.consume("export", by, request=request)
    import csv
    import io

    from django.db.models import Max
    from django.utils.translation import gettext as _

    from minqing.accounts.scope import scope_for
    from minqing.audit import selectors
    from minqing.lib.errors import PermissionDenied

    if not scope_for(by).is_auditor:
        raise PermissionDenied(_("Only the auditor reads the audit trail."))
    events = selectors.audit_events(audit_filter)
    with transaction.atomic():
        last = events.aggregate(last=Max("id"))["last"] or 0
        events = events.filter(id__lte=last)
        count = events.count()
        record = audit_record(
            action="audit.export",
            user=by,
            request=request,
            detail={**audit_filter.as_detail(), "rows": count},
        )
    made_at = timezone.localtime(record.at)
    header = [
        _("Event no."),
        _("Time"),
        _("User"),
        _("IP address"),
        _("Action"),
        _("Record"),
        _("Fields"),
        _("Success"),
        _("Detail"),
    ]

    def chunks():
        out = io.StringIO()
        writer = csv.writer(out)
        out.write("\ufeff")
        writer.writerow(
            [
                _("Exported by %(user)s at %(time)s")
                % {"user": by.username, "time": f"{made_at:%Y-%m-%d %H:%M:%S}"}
            ]
        )
        writer.writerow(header)
        for i, line in enumerate(selectors.lines(events.iterator(chunk_size=1000)), 1):
            e = line.event
            writer.writerow(
                [
                    e.pk,
                    f"{timezone.localtime(e.at):%Y-%m-%d %H:%M:%S}",
                    e.username,
                    e.ip,
                    line.action,
                    line.record,
                    line.fields,
                    _("yes") if e.success else _("no"),
                    selectors.detail_words(e),
                ]
            )
            if i % 500 == 0:
                yield out.getvalue().encode()
                out.seek(0)
                out.truncate()
        yield out.getvalue().encode()

    return chunks(), f"audit-{made_at:%Y%m%d-%H%M%S}.csv"
