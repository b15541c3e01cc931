"""Reading the diary: "my households" sorted by who is due, a household's visits."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Max, Q
from django.utils import timezone

from minqing.contacts.models import ContactLink, LiaisonKind
from minqing.org.models import Node, subtree_q
from minqing.visits.models import HOME_MODES, Visit, VisitTask
from minqing.visits.services import cadence

OVERDUE, DUE, FINE = "overdue", "due", "fine"


@dataclass
class MyHousehold:
    id: int
    number: str
    head_name: str
    address: str
    grid: str
    version: int
    kinds: list[str] = field(default_factory=list)
    last_visit: dt.date | None = None
    last_home: dt.date | None = None
    due_on: dt.date | None = None
    task: str = ""
    status: str = FINE

    @property
    def kind_labels(self) -> list[str]:
        return [str(LiaisonKind(k).label) for k in self.kinds]


def my_households(user: Any, today: dt.date | None = None) -> list[MyHousehold]:
    """The households in ``user``'s care (through every liaison the account is), the most
    overdue first: an open must-visit task first, then by the date the quotas make them due."""
    today = today or timezone.localdate()
    rows: dict[int, MyHousehold] = {}
    first_path = ""
    for hid, kind, number, head, address, grid, version, path in (
        ContactLink.objects.current()
        .filter(liaison__user=user, liaison__active=True)
        .order_by("household__node__path", "household__number")
        .values_list(
            "household_id",
            "kind",
            "household__number",
            "household__head_name",
            "household__address",
            "household__node__name",
            "household__version",
            "household__node__path",
        )
    ):
        row = rows.get(hid)
        if row is None:
            row = rows[hid] = MyHousehold(hid, number, head, address, grid, version)
            first_path = first_path or path
        row.kinds.append(kind)
    if not rows:
        return []
    ids = list(rows)
    mine = Q(visitor=user) | Q(companions=user)
    for hid, last, last_home in (
        Visit.objects.filter(mine, household_id__in=ids)
        .order_by()
        .values("household_id")
        .annotate(
            last=Max("visited_at"), last_home=Max("visited_at", filter=Q(mode__in=HOME_MODES))
        )
        .values_list("household_id", "last", "last_home")
    ):
        rows[hid].last_visit = timezone.localdate(last)
        rows[hid].last_home = timezone.localdate(last_home) if last_home else None
    for hid, reason, due_on in (
        VisitTask.objects.filter(household_id__in=ids, done_at__isnull=True)
        .order_by("due_on")
        .values_list("household_id", "reason", "due_on")
    ):
        if not rows[hid].task:
            rows[hid].task, rows[hid].due_on = reason, due_on
    quotas = _quotas(first_path)
    week_end = cadence.period_end(today, "week")
    for row in rows.values():
        due = row.due_on
        for kind in row.kinds:
            for rule in quotas.get(kind, []):
                if not rule.per_household:
                    continue
                last = row.last_home if rule.home_only else row.last_visit
                when = cadence.next_due(last, rule.period, today)
                due = when if due is None else min(due, when)
        row.due_on = due
        if due is not None and due < today:
            row.status = OVERDUE
        elif row.task or (due is not None and due <= week_end):
            row.status = DUE
    order = {OVERDUE: 0, DUE: 1, FINE: 2}
    return sorted(
        rows.values(),
        key=lambda r: (order[r.status], r.due_on or dt.date.max, r.last_visit or dt.date.min),
    )


def _quotas(path: str) -> dict[str, list]:
    county = Node.objects.county_on_path(path)
    return cadence.quotas_for(county) if county else {}


def visible_household(user: Any, household_id: int) -> list[MyHousehold]:
    """One household the user may see, as a row of the visit form ([] when out of scope)."""
    from minqing.households.models import Household

    return [
        MyHousehold(h.pk, h.number, h.head_name, h.address, h.node.name, h.version)
        for h in Household.objects.visible_to(user).select_related("node").filter(pk=household_id)
    ]


def household_visits(household_id: int, limit: int = 20) -> list[Visit]:
    return list(
        Visit.objects.filter(household_id=household_id)
        .select_related("visitor")
        .prefetch_related("issues")
        .order_by("-visited_at", "-id")[:limit]
    )


def colleagues(user: Any, households: list[MyHousehold], limit: int = 40) -> list[Any]:
    """Who may go along on a visit (team visits): active accounts with a role in the villages of
    ``user``'s households, ``user`` aside; the service checks each against the household."""
    from minqing.accounts.models import User
    from minqing.households.models import Household

    villages = set(
        Household.objects.filter(pk__in=[h.id for h in households[:200]])
        .values_list("village__path", flat=True)
        .distinct()
    )
    if not villages:
        return []
    places = Q()
    for path in villages:
        places |= subtree_q(path, "roles__node__path")
    return list(
        User.objects.filter(places, is_active=True)
        .exclude(pk=user.pk)
        .distinct()
        .order_by("full_name", "username")[:limit]
    )
