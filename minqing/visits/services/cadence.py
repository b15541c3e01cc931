"""Visit quotas (走访频次) and when each household is next due.

docs/DOMAIN.md §3: cadres ≥1 home visit a month and ≥1 phone/WeChat contact a week per linked
household; representatives weekly. Group leaders and party members default to one contact a
month per household. A county edits its own rules (``QuotaRule``) and how far back a visit may
be dated (``VisitSettings``); the defaults are written the first time they are read.
"""

from __future__ import annotations

import calendar
import datetime as dt

from minqing.contacts.models import LiaisonKind
from minqing.org.models import Node
from minqing.visits.models import Period, QuotaRule, VisitSettings

#: kind → [(period, count, per_household, home_only)]
DEFAULT_QUOTAS = {
    LiaisonKind.CADRE: [(Period.MONTH, 1, True, True), (Period.WEEK, 1, True, False)],
    LiaisonKind.REPRESENTATIVE: [(Period.WEEK, 1, True, False)],
    LiaisonKind.GROUP_LEADER: [(Period.MONTH, 1, True, False)],
    LiaisonKind.PARTY_MEMBER: [(Period.MONTH, 1, True, False)],
}


def quotas_for(county: Node) -> dict[str, list[QuotaRule]]:
    """The county's active quota rules by liaison kind (defaults written on first use).

    Two first readers at once both find no rules and both write the defaults: the unique
    constraint on a rule's sameness makes the second writer's rows no-ops (``ignore_conflicts``),
    so the county gets one set.
    """
    rules = list(QuotaRule.objects.filter(county=county))
    if not rules:
        QuotaRule.objects.bulk_create(
            [
                QuotaRule(
                    county=county,
                    kind=kind,
                    period=period,
                    count=count,
                    per_household=per_household,
                    home_only=home_only,
                )
                for kind, quotas in DEFAULT_QUOTAS.items()
                for period, count, per_household, home_only in quotas
            ],
            ignore_conflicts=True,
        )
        rules = list(QuotaRule.objects.filter(county=county))
    by_kind: dict[str, list[QuotaRule]] = {}
    for rule in rules:
        if rule.active:
            by_kind.setdefault(rule.kind, []).append(rule)
    return by_kind


def settings_for(county: Node) -> VisitSettings:
    """The county's visit-diary settings (the look-back for late entries); the row is written
    with its defaults the first time (one row per county: a unique county)."""
    found = VisitSettings.objects.filter(county=county).first()
    if found is not None:
        return found
    VisitSettings.objects.bulk_create([VisitSettings(county=county)], ignore_conflicts=True)
    return VisitSettings.objects.get(county=county)


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
