"""Reads of issues: jurisdiction, boards, timelines. Out-of-scope issues are simply absent."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol, cast

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy

from minqing.accounts.scope import scope_for
from minqing.issues.models import (
    OPEN_STATES,
    CheckIn,
    Issue,
    IssueReporter,
    LateRecord,
    Status,
    Topic,
)
from minqing.issues.models import (
    Level as IssueLevel,
)
from minqing.lib.sqlite_plans import rows_reading
from minqing.org.models import Department, Level, Node, subtree_q
from minqing.org.selectors import county_on_path


def issue_scope_q(user: Any) -> Q:
    """Issues a user may see (docs/SECURITY-BAR.md §7).

    - tree roles: issues placed in their subtrees;
    - department staff: issues dispatched to their department or that it checked in on;
    - co-building units: their own orders, and orders offered in their county not yet taken.
    """
    scope = scope_for(user)
    q = scope.node_q("node_path")
    if scope.department_ids:
        ids = list(scope.department_ids)
        q |= Q(owner_department_id__in=ids)
        q |= Q(pk__in=CheckIn.objects.filter(department_id__in=ids).values("issue_id"))
        counties = Department.objects.filter(
            pk__in=ids, kind=Department.Kind.CO_BUILDING
        ).values_list("county__path", flat=True)
        for path in counties:
            q |= Q(
                offered=True, status__in=[Status.REGISTERED, Status.RETURNED, Status.DISPATCHED]
            ) & subtree_q(path, "node_path")
    return q


def issue_for_page(user: Any, pk: int) -> Issue:
    """One issue the user may see, with what its page needs; DoesNotExist otherwise."""
    return (
        Issue.objects.visible_to(user)
        .select_related(
            "node",
            "village",
            "town",
            "category",
            "household",
            "owner_node",
            "owner_department",
            "responsible",
            "created_by",
            "merged_into",
            "topic",
        )
        .get(pk=pk)
    )


def timeline(issue: Issue) -> QuerySet:
    return issue.events.select_related("actor").order_by("at", "id")


#: Traffic lights a list can be filtered by (``Issue.light``).
LIGHTS = ("green", "yellow", "red")


@dataclass
class IssueFilters:
    """The filters of the issue lists and the board, as read from (and written to) the URL.

    ``village`` and ``node`` are nodes the caller already found in the reader's scope; every
    condition is on a column of the issue row itself, so the board's index walks still apply.
    """

    village: Node | None = None
    node: Node | None = None
    colour: str = ""
    category: Any = None
    light: str = ""
    overdue: bool = False

    def apply(self, qs: QuerySet, now) -> QuerySet:
        if self.node is not None:
            qs = qs.filter(subtree_q(self.node.path, "node_path"))
        if self.village is not None:
            qs = qs.filter(village_id=self.village.pk)
        if self.colour:
            qs = qs.filter(colour=self.colour)
        if self.category is not None:
            qs = qs.filter(category_id=self.category.pk)
        if self.overdue or self.light == "red":
            qs = qs.filter(status__in=OPEN_STATES, due_at__lt=now)
        elif self.light == "yellow":
            qs = qs.filter(status__in=OPEN_STATES, due_at__gte=now, warn_at__lte=now)
        elif self.light == "green":
            qs = qs.filter(status__in=OPEN_STATES, due_at__gte=now).filter(
                Q(warn_at__isnull=True) | Q(warn_at__gt=now)
            )
        return qs

    def params(self) -> dict[str, str]:
        """The filters as URL parameters (only the ones set)."""
        found = {
            "village": str(self.village.pk) if self.village is not None else "",
            "node": str(self.node.pk) if self.node is not None else "",
            "colour": self.colour,
            "category": str(self.category.pk) if self.category is not None else "",
            "light": self.light,
            "overdue": "1" if self.overdue else "",
        }
        return {k: v for k, v in found.items() if v}

    @property
    def querystring(self) -> str:
        from urllib.parse import urlencode

        return urlencode(self.params())

    @property
    def active(self) -> bool:
        return bool(self.params())


def filter_villages(user: Any) -> list[Node]:
    """The villages the lists can be filtered by: those of the reader's places, and for
    department staff those of the issues they see (one query)."""
    scope = scope_for(user)
    q = scope.node_q("path") & Q(level=Level.VILLAGE)
    if scope.department_ids:
        q |= Q(pk__in=Issue.objects.visible_to(user).values("village_id"))
    return list(Node.objects.filter(q).select_related("parent").order_by("path"))


@dataclass
class BoardColumn:
    """One column of the dispatch board: what waits for whom."""

    key: str
    label: str
    issues: list[Issue]
    total: int


def board_scope(user: Any, *, node=None, department=None) -> QuerySet:
    """The issues of the board's scope, in any state (the board filters by state)."""
    qs = Issue.objects.visible_to(user)
    if node is not None:
        qs = qs.filter(subtree_q(node.path, "node_path"))
    if department is not None:
        qs = qs.filter(owner_department=department)
    return qs


#: The board's columns: key, heading, the states it shows. The issue list filters by the keys.
BOARD_GROUPS = [
    ("to_dispatch", gettext_lazy("Waiting for dispatch"), (Status.REGISTERED, Status.RETURNED)),
    ("to_accept", gettext_lazy("Waiting to be accepted"), (Status.DISPATCHED,)),
    (
        "in_hand",
        gettext_lazy("Being handled"),
        (Status.ACCEPTED, Status.IN_PROGRESS, Status.REOPENED),
    ),
]
#: What a row of the board shows (``issues/_row.html``): reading only these keeps the board cheap.
ROW_FIELDS = (
    "id",
    "title",
    "colour",
    "status",
    "due_at",
    "warn_at",
    "village__name",
    "category__name",
    "category__name_en",
    "owner_node__name",
    "owner_department__name",
)
#: Rows per column: the most urgent; the column links to the full list.
BOARD_ROWS = 20


def board(
    user: Any,
    *,
    node=None,
    department=None,
    per_column: int = BOARD_ROWS,
    filters: IssueFilters | None = None,
    now=None,
) -> list[BoardColumn]:
    """派单台 — open issues grouped by what they wait for, most urgent first.

    A fixed number of small queries whatever the number of issues: one count per state (index
    ``issue_status_path``), the most urgent ``per_column`` ids of each open state (index
    ``issue_status_due``: read in deadline order, stops after ``per_column`` in scope), and one
    read of the rows shown.
    """
    base = board_scope(user, node=node, department=department)
    if filters is not None:
        base = filters.apply(base, now or timezone.now())
    groups = BOARD_GROUPS
    counts = dict(
        base.filter(status__in=OPEN_STATES)
        .values("status")
        .annotate(n=Count("*"))  # COUNT(*): PostgreSQL counts from the index alone
        .values_list("status", "n")
        .order_by()
    )
    picked: dict[str, list[int]] = {}
    for key, _label, states in groups:
        urgent: list[tuple] = []
        for state in states:
            urgent += _most_urgent(base.filter(status=state), per_column)
        urgent.sort(key=lambda row: (row[1] is None, row[1], row[0]))
        picked[key] = [pk for pk, _due in urgent[:per_column]]
    wanted = [pk for ids in picked.values() for pk in ids]
    rows = (
        Issue.objects.select_related("village", "category", "owner_node", "owner_department")
        .only(*ROW_FIELDS)
        .in_bulk(wanted)
    )
    return [
        BoardColumn(
            key,
            str(label),
            [rows[pk] for pk in picked[key] if pk in rows],
            sum(counts.get(s, 0) for s in states),
        )
        for key, label, states in groups
    ]


def _most_urgent(qs: QuerySet, limit: int) -> list[tuple]:
    """(id, due_at) of the first ``limit`` rows of one state by deadline.

    SQLite keeps no histogram, so for a county-wide scope it would read every row of the
    county's path range and sort them; told to walk ``issue_status_due`` it stops after
    ``limit`` rows in scope. PostgreSQL's planner makes that choice from its statistics.
    """
    page = qs.order_by("due_at", "id").values_list("id", "due_at")[:limit]
    rows = rows_reading(page, 'INDEXED BY "issue_status_due"')
    return [(pk, _as_datetime(due)) for pk, due in rows]


def _as_datetime(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    # Only SQLite hands a raw row's datetime over as text (PostgreSQL gives a datetime); its
    # backend's converter reads it (importing that backend here would load it on PostgreSQL).
    ops = cast(_ReadsDatetimes, connection.ops)
    return ops.convert_datetimefield_value(value, Issue._meta.get_field("due_at"), connection)


class _ReadsDatetimes(Protocol):
    def convert_datetimefield_value(
        self, value: Any, expression: Any, connection: Any
    ) -> dt.datetime | None: ...


def overdue_count(user: Any, now=None) -> int:
    now = now or timezone.now()
    return Issue.objects.visible_to(user).filter(status__in=OPEN_STATES, due_at__lt=now).count()


def county_for(user: Any) -> Node | None:
    """The county the user works in (the first of their places), for county-wide analysis."""
    scope = scope_for(user)
    for path in scope.node_paths:
        county = county_on_path(path)
        if county is not None:
            return county
        county = Node.objects.filter(subtree_q(path), level=Level.COUNTY).first()
        if county is not None:
            return county
    if scope.department_ids:
        return Node.objects.filter(departments__pk__in=scope.department_ids).first()
    return None


@dataclass
class LateUnit:
    """One unit in the 通报: how many deadlines it missed in the period."""

    name: str
    level: str
    missed: int
    still_open: int


def late_units(user: Any, *, days: int = 30, now=None) -> list[LateUnit]:
    """通报 — units that let deadlines pass in the last ``days`` days, worst first."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=max(1, min(days, 366)))
    visible = Issue.objects.visible_to(user)
    rows = (
        LateRecord.objects.filter(recorded_at__gte=since, issue__in=visible)
        .values("level", "unit_node__name", "unit_department__name")
        .annotate(
            missed=Count("id"),
            still_open=Count("id", filter=Q(issue__status__in=list(OPEN_STATES))),
        )
        .order_by("-missed", "unit_node__name", "unit_department__name")
    )
    return [
        LateUnit(
            name=r["unit_department__name"] or r["unit_node__name"] or "—",
            level=str(IssueLevel(r["level"]).label),
            missed=r["missed"],
            still_open=r["still_open"],
        )
        for r in rows
    ]


def topics_visible(user: Any) -> QuerySet:
    county = county_for(user)
    if county is None:
        return Topic.objects.none()
    return (
        Topic.objects.filter(county=county)
        .annotate(size=Count("issues"))
        .select_related("category")
        .order_by("-created_at")
    )


def issues_of_household(user: Any, household, limit: int = 10) -> list[Issue]:
    """The issues a household raised or joined as a reporter, newest first (one query: the
    ids through the two household indexes as a UNION; an OR of both sends PostgreSQL through
    every issue by date)."""
    ids = (
        Issue.objects.filter(household=household)
        .values("id")
        .order_by()
        .union(IssueReporter.objects.filter(household=household).values("issue_id").order_by())
    )
    return list(
        Issue.objects.visible_to(user)
        .filter(pk__in=ids)
        .select_related("village", "category", "owner_node", "owner_department")
        .order_by("-created_at")[:limit]
    )


@dataclass
class Satisfaction:
    """满意率 of revisits in a period: all revisits, and the sampled ones after closing."""

    revisits: int
    satisfied: int
    sampled: int
    sampled_satisfied: int

    @staticmethod
    def _rate(part: int, whole: int) -> float | None:
        return round(100 * part / whole, 1) if whole else None

    @property
    def rate(self) -> float | None:
        return self._rate(self.satisfied, self.revisits)

    @property
    def sampled_rate(self) -> float | None:
        return self._rate(self.sampled_satisfied, self.sampled)


def satisfaction(user: Any, *, days: int = 90, now=None) -> Satisfaction:
    """Satisfied or basically satisfied, over revisits of issues in the user's scope (1 query)."""
    from minqing.issues.models import Revisit
    from minqing.issues.models import Satisfaction as Result

    now = now or timezone.now()
    ok = Q(result__in=[Result.SATISFIED, Result.BASIC])
    row = Revisit.objects.filter(
        at__gte=now - dt.timedelta(days=days), issue__in=Issue.objects.visible_to(user)
    ).aggregate(
        n_all=Count("id"),
        n_ok=Count("id", filter=ok),
        n_sampled=Count("id", filter=Q(sampled=True)),
        n_sampled_ok=Count("id", filter=ok & Q(sampled=True)),
    )
    return Satisfaction(row["n_all"], row["n_ok"], row["n_sampled"], row["n_sampled_ok"])


def sample_for_revisit(user: Any, *, size: int = 10, days: int = 30, now=None) -> list[Issue]:
    """抽样回访 — a random handful of recently closed issues not yet sampled."""
    from minqing.issues.models import Revisit

    now = now or timezone.now()
    sampled = Revisit.objects.filter(sampled=True).values("issue_id")
    return list(
        Issue.objects.visible_to(user)
        .filter(status=Status.CLOSED, closed_at__gte=now - dt.timedelta(days=days))
        .exclude(pk__in=sampled)
        .select_related("village", "category", "owner_node", "owner_department")
        .order_by("?")[:size]
    )


# --------------------------------------------------------------------------- landing pages


@dataclass
class TownFigures:
    """One row of the command centre's first view: a town's open, overdue and late counts."""

    node: Node | None  # None: issues placed at the county itself
    open: int = 0
    overdue: int = 0
    warning: int = 0  # yellow light: 70 % of the stage's time gone, not yet overdue
    late: int = 0  # deadlines missed in the period (通报)

    def add(self, other: TownFigures) -> None:
        self.open += other.open
        self.overdue += other.overdue
        self.warning += other.warning
        self.late += other.late


@dataclass
class CountyFigures:
    county: Node | None
    towns: list[TownFigures]
    total: TownFigures
    days: int


def county_figures(user: Any, *, days: int = 30, now=None) -> CountyFigures:
    """The county's open, overdue and late issues by town, in the reader's scope.

    Five queries whatever the number of towns: the scope, the county, its towns, one grouped
    count of open issues (index ``issue_town_board``) and one grouped count of late records.
    """
    now = now or timezone.now()
    county = county_for(user)
    total = TownFigures(None)
    if county is None:
        return CountyFigures(None, [], total, days)
    towns = list(Node.objects.filter(parent=county, level=Level.TOWN).order_by("sort_key", "name"))
    rows = {t.pk: TownFigures(t) for t in towns}
    rest = TownFigures(None)
    visible = Issue.objects.visible_to(user).filter(subtree_q(county.path, "node_path"))
    counts = (
        visible.filter(status__in=OPEN_STATES)
        .values("town_id")
        .annotate(
            n=Count("*"),
            overdue=Count("id", filter=Q(due_at__lt=now)),
            warning=Count("id", filter=Q(warn_at__lte=now, due_at__gte=now)),
        )
        .order_by()
    )
    for r in counts:
        row = rows.get(r["town_id"], rest)
        row.add(TownFigures(None, r["n"], r["overdue"], r["warning"]))
    since = now - dt.timedelta(days=max(1, min(days, 366)))
    late = (
        LateRecord.objects.filter(recorded_at__gte=since, issue__in=visible)
        .values("issue__town_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for lr in late:
        rows.get(lr["issue__town_id"], rest).late += lr["n"]
    result = list(rows.values())
    if rest.open or rest.late:
        result.append(rest)
    for row in result:
        total.add(row)
    return CountyFigures(county, result, total, days)


@dataclass
class DepartmentDesk:
    """A county department's landing page: what waits for it to accept, and its overdue work.

    ``overdue`` lists the overdue issues it has accepted (those still waiting to be accepted
    are in ``to_accept``, red); ``overdue_total`` counts both, ``overdue_in_hand`` the list's.
    """

    departments: list[Department]
    to_accept: list[Issue]
    to_accept_total: int
    overdue: list[Issue]
    overdue_total: int
    overdue_in_hand: int
    in_hand_total: int


def department_desk(user: Any, *, limit: int = BOARD_ROWS, now=None) -> DepartmentDesk:
    """Five queries: the scope, the departments, one count of each kind, and the two lists."""
    now = now or timezone.now()
    ids = list(scope_for(user).department_ids)
    mine = Issue.objects.filter(owner_department_id__in=ids)
    in_hand = [s for s in OPEN_STATES if s not in (Status.DISPATCHED,)]
    counts = mine.filter(status__in=OPEN_STATES).aggregate(
        to_accept=Count("id", filter=Q(status=Status.DISPATCHED)),
        in_hand=Count("id", filter=Q(status__in=in_hand)),
        overdue=Count("id", filter=Q(due_at__lt=now)),
        overdue_in_hand=Count("id", filter=Q(due_at__lt=now, status__in=in_hand)),
    )
    rows = mine.select_related("village", "category", "owner_node", "owner_department")
    return DepartmentDesk(
        departments=list(Department.objects.filter(pk__in=ids).order_by("name")),
        to_accept=list(rows.filter(status=Status.DISPATCHED).order_by("due_at", "id")[:limit]),
        to_accept_total=counts["to_accept"],
        overdue=list(
            rows.filter(status__in=in_hand, due_at__lt=now).order_by("due_at", "id")[:limit]
        ),
        overdue_total=counts["overdue"],
        overdue_in_hand=counts["overdue_in_hand"],
        in_hand_total=counts["in_hand"],
    )
