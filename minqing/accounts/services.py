"""Account rules: login lockout (SECURITY.md 3).

Failures are counted from the audit trail itself, so every path that audits a failed login
(web form today, API tokens and OTP later) shares one lockout.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from minqing.audit.models import AuditEvent

LOCKOUT_FAILURES = 5
LOCKOUT_PERIOD = dt.timedelta(minutes=15)


def is_locked_out(username: str) -> bool:
    """Five failures since the last success within 15 minutes lock the account."""
    since = timezone.now() - LOCKOUT_PERIOD
    events = AuditEvent.objects.filter(username=username, action="login", at__gte=since)
    last_success = events.filter(success=True).order_by("-at").values_list("at", flat=True).first()
    failures = events.filter(success=False)
    if last_success is not None:
        failures = failures.filter(at__gt=last_success)
    return failures.count() >= LOCKOUT_FAILURES
