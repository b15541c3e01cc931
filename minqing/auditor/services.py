"""The auditor's exports of the trail (the trail is written by ``minqing.audit.services``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.models import User
from minqing.accounts.scope import scope_for
from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_record
from minqing.auditor import selectors
from minqing.auditor.selectors import AuditFilter
from minqing.lib import ratelimit
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied


def audit_export(
    *, by: User, audit_filter: AuditFilter, context: AuditContext | None = None
) -> tuple[Iterator[bytes], str]:
    """The audit events ``audit_filter`` selects as CSV chunks (UTF-8 with BOM, for Excel) and
    the file name. The auditor alone may (``PermissionDenied`` otherwise, nothing written); the
    export is itself audited (``audit.export``: the filter and the number of rows), and the file
    names who exported it and when. Rows written after the export began are not in it."""
    ratelimit.consume("export", by, context=context)
    if not scope_for(by).is_auditor:
        raise PermissionDenied(_("Only the auditor reads the audit trail."))
    events = selectors.audit_events(audit_filter)
    with transaction.atomic():
        last = events.aggregate(last=Max("id"))["last"] or 0
        events = events.filter(id__lte=last)
        count = events.count()
        record = audit_record(
            action=AuditAction.AUDIT_EXPORT,
            user=by,
            context=context,
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
