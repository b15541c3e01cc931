"""Background jobs of the visit diary, run by ``minqing worker`` (see ``minqing.lib.worker``).

``night_sessions`` may run often and from several workers: a service-day series never has two
sessions on one day (a unique constraint), so a second run, or a second worker, makes none.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db.models import F
from django.utils import timezone

from minqing.visits.models import MONTHLY_FIRST_MONDAY, NightVisitPlan
from minqing.visits.services import night

log = logging.getLogger(__name__)


def night_sessions(today: dt.date | None = None) -> dict[str, int]:
    """Make next month's session of every monthly service-day series (邻里服务日) that does not
    have it yet; ``today`` is for tests. Returns counts."""
    today = today or timezone.localdate()
    counts = {"series": 0, "created": 0, "failed": 0}
    series = NightVisitPlan.objects.filter(
        recurrence=MONTHLY_FIRST_MONDAY, series_id=F("pk")
    ).select_related("village", "town", "leader", "created_by")
    for template in series:
        counts["series"] += 1
        try:
            if night.session_next(template, today) is not None:
                counts["created"] += 1
        except Exception:
            log.exception("night series %s: next session failed; next run retries", template.pk)
            counts["failed"] += 1
    if counts["created"] or counts["failed"]:
        log.info("night sessions: %s", counts)
    return counts
