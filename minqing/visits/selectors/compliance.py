"""Visit quotas kept or missed (走访频次达标): by person, grid and village, per week or month.

For a place and a window (this or last week, this or last month), every liaison with an account
is measured against the county's active quota rules of that period (``QuotaRule``):

- a rule *for each linked household* ("≥1 home visit a month per household") requires
  ``count`` contacts with every household the person is linked to now; a household contributes
  at most ``count`` to what is done;
- a rule *of different households* ("≥5 households a month") requires ``count`` households
  contacted, whichever they are (inside the place).

A contact is a visit in the window where the person is the visitor or one of the team; a
home-only rule counts home and night visits only. *Contacted* is the number of the person's
linked households reached in the window (home visits only when the kind's rule is
home-only). The rate is done / required; grids and villages add up their people's numbers (a
linked household counts where it lives, a different-households rule where the person works).

A linked household is *overdue* when its quota is missed and the time to make it up is gone:
in a past window, every household short of its quota; in the current window, a household that
was short in the previous window too and is still short now. Households linked only since
then are not overdue yet. A household short of its quota in the current window and not
overdue is *due*.

Everything is counted in the database in a few GROUP BY queries (the visits of the window and
the one before it are read once), so a town of 30,000 households costs the same handful of
queries as a village. The SQL is built here rather than by the ORM because it applies the
quotas inside the GROUP BY: the same rules by ORM conditional aggregation
(``tests/compliance_orm.py``, the figures checked equal by ``tests/test_compliance_sql_vs_orm``)
carry every link and contact to Python and took 2-7 times as long on 20,000 households (the
county's month: 3.2 s against 0.8 s on SQLite, 8.2 s against 1.0 s on PostgreSQL; the bench's
quota report row times both).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minqing.accounts.models import Role
from minqing.contacts.models import ContactLink, Liaison, LiaisonKind
from minqing.households.models import Household
from minqing.org.models import Level, Node, subtree_q
from minqing.visits.models import Period, QuotaRule, Visit
from minqing.visits.selectors.compliance_sql import (
    contacts_cte,
    fetch,
    link_expressions,
    visit_scope,
)
from minqing.visits.services import cadence

#: Who reads the compliance pages of a place they look after.
VIEW_ROLES = frozenset({Role.COMMAND_CENTRE, Role.TOWN_STAFF, Role.VILLAGE_CADRE, Role.GRID_WORKER})
#: window key → (period, how many periods back)
WINDOWS = {
    "week": (Period.WEEK, 0),
    "last-week": (Period.WEEK, 1),
    "month": (Period.MONTH, 0),
    "last-month": (Period.MONTH, 1),
}
WINDOW_LABELS = {
    "week": _("This week"),
    "last-week": _("Last week"),
    "month": _("This month"),
    "last-month": _("Last month"),
}
OVERDUE, DUE, DONE, NEW = "overdue", "due", "done", "new"


def can_view(user: Any, node: Node) -> bool:
    from minqing.accounts.scope import scope_for

    return scope_for(user).covers_path(node.path, roles=VIEW_ROLES)


# --------------------------------------------------------------------------- windows


@dataclass(frozen=True)
class Window:
    """The days measured: ``start`` … ``end`` (inclusive), and the period before them."""

    key: str
    period: str
    start: dt.date
    end: dt.date
    previous_start: dt.date
    today: dt.date

    @property
    def current(self) -> bool:
        return self.end >= self.today

    @property
    def label(self) -> str:
        return str(WINDOW_LABELS[self.key])


def window_for(key: str, today: dt.date | None = None) -> Window:
    """The window named ``key`` (see ``WINDOWS``; anything else is this month)."""
    today = today or timezone.localdate()
    if key not in WINDOWS:
        key = "month"
    period, back = WINDOWS[key]
    start = cadence.period_start(today, period)
    for _step in range(back):
        start = cadence.period_start(start - dt.timedelta(days=1), period)
    end = cadence.period_end(start, period)
    previous = cadence.period_start(start - dt.timedelta(days=1), period)
    return Window(key, period, start, end, previous, today)


# --------------------------------------------------------------------------- results


@dataclass
class Tally:
    linked: int = 0
    contacted: int = 0
    required: int = 0
    done: int = 0
    overdue: int = 0
    due: int = 0

    @property
    def rate(self) -> float | None:
        return self.done / self.required if self.required else None

    @property
    def percent(self) -> int | None:
        rate = self.rate
        return None if rate is None else int(rate * 100 + 0.5)

    def add(self, other: Tally) -> None:
        for name in ("linked", "contacted", "required", "done", "overdue", "due"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class PersonRow(Tally):
    liaison_id: int = 0
    name: str = ""
    kind: str = ""
    user_id: int = 0
    node_id: int = 0
    village_id: int = 0
    node_name: str = ""
    village_name: str = ""
    rules: list[QuotaRule] = field(default_factory=list)

    @property
    def kind_label(self) -> str:
        return str(LiaisonKind(self.kind).label)


@dataclass
class UnitRow(Tally):
    node_id: int = 0
    name: str = ""
    path: str = ""
    village_name: str = ""


@dataclass
class Compliance:
    node: Node
    window: Window
    rules: list[QuotaRule]
    people: list[PersonRow]
    grids: list[UnitRow]
    villages: list[UnitRow]
    total: Tally


@dataclass
class HouseholdRow:
    id: int
    number: str
    head_name: str
    grid: str
    contacts: int
    home_contacts: int
    last_contact: dt.date | None
    status: str


# --------------------------------------------------------------------------- SQL pieces


def _rules(node: Node, period: str) -> list[QuotaRule]:
    county = node if node.level == Level.COUNTY else Node.objects.county_on_path(node.path)
    if county is None:
        return []
    by_kind = cadence.quotas_for(county)
    return sorted(
        (r for rules in by_kind.values() for r in rules if r.period == period),
        key=lambda r: (r.kind, not r.per_household, not r.home_only, r.pk or 0),
    )


# --------------------------------------------------------------------------- the report


@dataclass
class _Read:
    """What the report reads: the link groups (liaison, grid, village, linked, contacted, done,
    short, overdue), households reached per person, the liaisons and the nodes they name."""

    window: Window
    rules: list[QuotaRule]
    per_household: dict[str, list[QuotaRule]]
    distinct: dict[str, list[QuotaRule]]
    link_rows: list[tuple]
    reached: dict[int, tuple[int, int]]
    liaisons: dict[int, dict[str, Any]]
    nodes: dict[int, tuple[str, str, str]]


LIAISON_FIELDS = ("id", "name", "kind", "user_id", "node_id", "village_id")


def _read(node: Node, window: Window) -> _Read:
    rules = _rules(node, window.period)
    per_household: dict[str, list[QuotaRule]] = {}
    distinct: dict[str, list[QuotaRule]] = {}
    for rule in rules:
        (per_household if rule.per_household else distinct).setdefault(rule.kind, []).append(rule)

    where, where_params = visit_scope(node)
    cte, cte_params = contacts_cte(window, where, where_params)
    exprs = link_expressions(window, per_household)
    link_t, liaison_t = ContactLink._meta.db_table, Liaison._meta.db_table
    hh_t, node_t = Household._meta.db_table, Node._meta.db_table
    select = ", ".join(f"SUM({sql})" for sql, _p in exprs)
    sql = f"""{cte}
    SELECT li.id, h.node_id, h.village_id, COUNT(*), {select}
    FROM {link_t} l
    JOIN {liaison_t} li ON li.id = l.liaison_id
    JOIN {hh_t} h ON h.id = l.household_id
    LEFT JOIN contacts c ON c.household_id = l.household_id AND c.person_id = li.user_id
    WHERE l.ended_at IS NULL AND li.user_id IS NOT NULL AND li.active = %s
      AND h.node_id IN (SELECT id FROM {node_t} WHERE path >= %s AND path < %s)
    GROUP BY li.id, h.node_id, h.village_id"""  # noqa: S608 - values are parameters
    params = [*cte_params, *(p for _s, ps in exprs for p in ps)]
    params += [True, node.path, node.path[:-1] + "0"]
    link_rows = fetch(sql, params)

    reached: dict[int, tuple[int, int]] = {}
    if distinct:
        for person, any_mode, home in fetch(
            f"""{cte}
            SELECT person_id, SUM(CASE WHEN n_any > 0 THEN 1 ELSE 0 END),
                SUM(CASE WHEN n_home > 0 THEN 1 ELSE 0 END)
            FROM contacts GROUP BY person_id""",  # noqa: S608
            cte_params,
        ):
            reached[person] = (int(any_mode or 0), int(home or 0))

    people_with_accounts = Liaison.objects.filter(user__isnull=False, active=True)
    liaisons = {
        row["id"]: row
        for row in people_with_accounts.filter(subtree_q(node.path, "node__path")).values(
            *LIAISON_FIELDS
        )
    }
    elsewhere = {r[0] for r in link_rows} - set(liaisons)  # linked here, placed outside
    if elsewhere:
        liaisons |= {
            row["id"]: row
            for row in people_with_accounts.filter(pk__in=elsewhere).values(*LIAISON_FIELDS)
        }
    node_ids = {r[1] for r in link_rows} | {r[2] for r in link_rows}
    node_ids |= {li["node_id"] for li in liaisons.values()}
    node_ids |= {li["village_id"] for li in liaisons.values()}
    nodes = {
        pk: (name, path, level)
        for pk, name, path, level in Node.objects.filter(pk__in=node_ids).values_list(
            "id", "name", "path", "level"
        )
    }
    return _Read(window, rules, per_household, distinct, link_rows, reached, liaisons, nodes)


class _Rows:
    """The report's rows as they fill: by person, grid and village."""

    def __init__(self, read: _Read) -> None:
        self.read = read
        self.people: dict[int, PersonRow] = {}
        self.grids: dict[int, UnitRow] = {}
        self.villages: dict[int, UnitRow] = {}

    def _name(self, pk: int) -> str:
        return self.read.nodes.get(pk, ("", "", ""))[0]

    def person(self, lid: int) -> PersonRow:
        row = self.people.get(lid)
        if row is None:
            li, read = self.read.liaisons[lid], self.read
            row = self.people[lid] = PersonRow(
                liaison_id=lid,
                name=li["name"],
                kind=li["kind"],
                user_id=li["user_id"],
                node_id=li["node_id"],
                village_id=li["village_id"],
                node_name=self._name(li["node_id"]),
                village_name=self._name(li["village_id"]),
                rules=[*read.per_household.get(li["kind"], []), *read.distinct.get(li["kind"], [])],
            )
        return row

    def unit(self, bucket: dict[int, UnitRow], pk: int, village_id: int) -> UnitRow:
        row = bucket.get(pk)
        if row is None:
            name, path, _level = self.read.nodes.get(pk, ("", "", ""))
            row = bucket[pk] = UnitRow(
                node_id=pk, name=name, path=path, village_name=self._name(village_id)
            )
        return row

    def is_grid(self, pk: int) -> bool:
        return self.read.nodes.get(pk, ("", "", ""))[2] in (Level.GRID, Level.AREA)


def _compute(read: _Read) -> _Rows:
    """Each link group's tally added to its person, grid and village; then each person's
    different-households rules (counted where the person works)."""
    rows, window = _Rows(read), read.window
    for lid, grid, village, linked, contacted, done, short, overdue in read.link_rows:
        if lid not in read.liaisons:
            continue
        kind = read.liaisons[lid]["kind"]
        need = sum(int(r.count) for r in read.per_household.get(kind, []))
        overdue, short = int(overdue or 0), int(short or 0)
        part = Tally(
            linked=linked,
            contacted=int(contacted or 0),
            required=linked * need,
            done=int(done or 0),
            overdue=overdue,
            due=max(short - overdue, 0) if window.current else 0,
        )
        rows.person(lid).add(part)
        rows.unit(rows.grids, grid, village).add(part)
        rows.unit(rows.villages, village, village).add(part)

    for lid, li in read.liaisons.items():
        row = rows.person(lid)
        kind_rules = read.distinct.get(li["kind"], [])
        if not kind_rules:
            continue
        any_mode, home = read.reached.get(li["user_id"], (0, 0))
        part = Tally(
            required=sum(int(r.count) for r in kind_rules),
            done=sum(min(int(r.count), home if r.home_only else any_mode) for r in kind_rules),
        )
        row.add(part)
        if rows.is_grid(li["node_id"]):
            rows.unit(rows.grids, li["node_id"], li["village_id"]).add(part)
        rows.unit(rows.villages, li["village_id"], li["village_id"]).add(part)
    return rows


def _shape(node: Node, read: _Read, rows: _Rows) -> Compliance:
    """The report: the people worst first, grids and villages in tree order, the total."""
    total = Tally()
    for row in rows.villages.values():
        total.add(row)
    worst_first = sorted(
        rows.people.values(),
        key=lambda p: (p.rate if p.rate is not None else 2.0, p.village_name, p.name, p.kind),
    )
    return Compliance(
        node=node,
        window=read.window,
        rules=read.rules,
        people=worst_first,
        grids=sorted(rows.grids.values(), key=lambda u: u.path),
        villages=sorted(rows.villages.values(), key=lambda u: u.path),
        total=total,
    )


def compliance(node: Node, window_key: str = "month", today: dt.date | None = None) -> Compliance:
    """Quotas kept by everyone with an account who looks after households in ``node``."""
    read = _read(node, window_for(window_key, today))
    return _shape(node, read, _compute(read))


def person_households(
    liaison: Liaison, viewer: Any, window_key: str = "month", today: dt.date | None = None
) -> tuple[Window, list[QuotaRule], list[HouseholdRow]]:
    """One liaison's linked households (those ``viewer`` may see): overdue first, then due,
    then the ones whose quota is kept, by the same rules and counts as :func:`compliance`."""
    window = window_for(window_key, today)
    all_rules = _rules(liaison.village, window.period)
    rules = [r for r in all_rules if r.kind == liaison.kind and r.per_household]
    link_t = ContactLink._meta.db_table
    where = f"v.household_id IN (SELECT household_id FROM {link_t} WHERE liaison_id = %s)"  # noqa: S608
    cte, cte_params = contacts_cte(window, where, [liaison.pk], person=liaison.user_id)
    by_kind = {liaison.kind: rules} if rules else {}
    exprs = link_expressions(window, by_kind)
    select = ", ".join(sql for sql, _p in exprs)
    sql = f"""{cte}
    SELECT l.household_id, COALESCE(c.n_any, 0), COALESCE(c.n_home, 0), {select}
    FROM {link_t} l
    JOIN {Liaison._meta.db_table} li ON li.id = l.liaison_id
    LEFT JOIN contacts c ON c.household_id = l.household_id AND c.person_id = li.user_id
    WHERE l.ended_at IS NULL AND l.liaison_id = %s"""  # noqa: S608 - values are parameters
    params = [*cte_params, *(p for _s, ps in exprs for p in ps), liaison.pk]
    counts = {row[0]: row[1:] for row in fetch(sql, params)}
    households = (
        Household.objects.visible_to(viewer)
        .filter(pk__in=list(counts))
        .select_related("node")
        .order_by("node__path", "number")
    )
    last = dict(
        Visit.objects.filter(
            Q(visitor_id=liaison.user_id) | Q(companions=liaison.user_id),
            household_id__in=list(counts),
        )
        .order_by()
        .values("household_id")
        .annotate(last=Max("visited_at"))
        .values_list("household_id", "last")
    )
    rows = []
    for h in households:
        n_any, n_home, _contacted, _done, short, overdue = counts[h.pk]
        if not rules:
            status = ""  # no quota of this period for the person's kind
        elif overdue:
            status = OVERDUE
        elif short:
            status = DUE if window.current else NEW
        else:
            status = DONE
        when = last.get(h.pk)
        rows.append(
            HouseholdRow(
                h.pk,
                h.number,
                h.head_name,
                h.node.name,
                int(n_any),
                int(n_home),
                timezone.localdate(when) if when else None,
                status,
            )
        )
    order = {OVERDUE: 0, DUE: 1, NEW: 2, DONE: 3, "": 4}  # "": no quota of the period
    rows.sort(key=lambda r: (order[r.status], r.last_contact or dt.date.min))
    return window, rules, rows
