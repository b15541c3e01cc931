"""Background jobs of the issue loop, run by ``minqing worker`` (see ``minqing.lib.worker``).

``sweep_deadlines`` is safe to run from several workers at once and to kill at any moment:
every warning and escalation claims its row with a conditional UPDATE in its own transaction
(healthchecks' ``sendalerts`` pattern), so a row is acted on once per missed deadline, and a
crash rolls back only the row in hand, which the next run claims again.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from django.db.models import Q
from django.utils import timezone

from minqing.issues.models import OPEN_STATES, Issue
from minqing.issues.services import issue_escalate, issue_warn, issues_warn
from minqing.lib.memo import memoized
from minqing.notifications.services import delivery_batch

log = logging.getLogger(__name__)

BATCH = 500


def sweep_deadlines(now: dt.datetime | None = None, batch: int = BATCH) -> dict[str, int]:
    """Turn yellow lights on (one notice at 70 % of a stage) and escalate overdue issues one
    level up the ladder; return counts. ``now`` is for tests and the benchmark.

    Each escalation is its own transaction (a failure holds back only that issue); warnings
    go a page per transaction, and a page that fails is retried one issue at a time. Units'
    people and deadline rules are read once per sweep, and the notifications are handed to
    the channels at the end.
    """
    started = time.monotonic()
    now = now or timezone.now()
    counts = {"escalated": 0, "warned": 0, "claimed_elsewhere": 0, "failed": 0}

    def pages(qs, key: str):
        """Keyset pages of (pk, key time, escalations): rows acted on move out, failed rows
        are passed."""
        last: tuple | None = None
        while True:
            page = qs
            if last is not None:
                page = page.filter(
                    Q(**{f"{key}__gt": last[1]}) | Q(**{key: last[1], "pk__gt": last[0]})
                )
            rows = list(page.order_by(key, "id").values_list("pk", key, "escalations")[:batch])
            if rows:
                yield rows
            if len(rows) < batch:
                return
            last = rows[-1][:2]

    with memoized(), delivery_batch():
        overdue = Issue.objects.filter(status__in=OPEN_STATES, due_at__lte=now)
        for rows in pages(overdue, "due_at"):
            for pk, due_at, escalations in rows:
                issue = Issue(pk=pk, due_at=due_at, escalations=escalations)
                try:
                    done = issue_escalate(issue=issue, expected_due=due_at, now=now)
                except Exception:
                    log.exception("escalating issue %s failed; the next sweep tries again", pk)
                    counts["failed"] += 1
                    continue
                counts["escalated" if done is not None else "claimed_elsewhere"] += 1
        warnings = Issue.objects.filter(
            status__in=OPEN_STATES, warned=False, warn_at__lte=now, due_at__gt=now
        )
        for rows in pages(warnings, "warn_at"):
            try:
                counts["warned"] += issues_warn(ids=[pk for pk, *_ in rows], now=now)
                continue
            except Exception:
                log.exception("warning a page of issues failed; trying them one by one")
            for pk, warn_at, _escalations in rows:
                try:
                    if issue_warn(issue=Issue(pk=pk, warn_at=warn_at), now=now):
                        counts["warned"] += 1
                except Exception:
                    log.exception("warning on issue %s failed; the next sweep tries again", pk)
                    counts["failed"] += 1
    result = {**counts, "ms": round((time.monotonic() - started) * 1000)}
    if counts["escalated"] or counts["warned"] or counts["failed"]:
        log.info("deadline sweep: %s", result)
    return result
