"""Visit quotas (走访频次) and when each household is next due.

DOMAIN §3: cadres ≥1 home visit a month and ≥1 phone/WeChat contact a week per linked
household; representatives weekly. Group leaders and party members default to one contact a
month per household. A county edits its own rules (``QuotaRule``); the defaults are written the
first time they are read.
"""

from __future__ import annotations

import calendar
import datetime as dt

from django.db import transaction

from minqing.contacts.models import LiaisonKind
from minqing.org.models import Node
from minqing.visits.models import Period, QuotaRule

#: kind → [(period, count, per_household, home_only)]
DEFAULT_QUOTAS = {
    LiaisonKind.CADRE: [(Period.MONTH, 1, True, True), (Period.WEEK, 1, True, False)],
    LiaisonKind.REPRESENTATIVE: [(Period.WEEK, 1, True, False)],
    LiaisonKind.GROUP_LEADER: [(Period.MONTH, 1, True, False)],
    LiaisonKind.PARTY_MEMBER: [(Period.MONTH, 1, True, False)],
}


def quotas_for(county: Node) -> dict[str, list[QuotaRule]]:
    """The county's active quota rules by liaison kind (defaults written on first use)."""
    rules = list(QuotaRule.objects.filter(county=county))
    if not rules:
        with transaction.atomic():
            for kind, quotas in DEFAULT_QUOTAS.items():
                for period, count, per_household, home_only in quotas:
                    rules.append(
                        QuotaRule.objects.create(
                            county=county,
                            kind=kind,
                            period=period,
                            count=count,
                            per_household=per_household,
                            home_only=home_only,
                        )
                    )
    by_kind: dict[str, list[QuotaRule]] = {}
    for rule in rules:
        if rule.active:
            by_kind.setdefault(rule.kind, []).append(rule)
    return by_kind


def period_start(day: dt.date, period: str) -> dt.date:
    if period == Period.WEEK:
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def period_end(day: dt.date, period: str) -> dt.date:
    """The last day of the period ``day`` falls in."""
    if period == Period.WEEK:
        return period_start(day, period) + dt.timedelta(days=6)
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def next_due(last: dt.date | None, period: str, today: dt.date) -> dt.date:
    """When the next contact is due: by the end of the period after the last one's, or by the
    end of the current period when the household was never (or not this period) contacted."""
    if last is None:
        return period_end(today, period)
    return period_end(period_end(last, period) + dt.timedelta(days=1), period)
