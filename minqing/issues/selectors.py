"""Reads of issues: jurisdiction, boards, timelines. Out-of-scope issues are simply absent."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

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
from minqing.org.models import Department, Level, Node, subtree_q


def issue_scope_q(user: Any) -> Q:
    """Issues a user may see (SECURITY.md 7).

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
    user: Any, *, node=None, department=None, per_column: int = BOARD_ROWS
) -> list[BoardColumn]:
    """派单台 — open issues grouped by what they wait for, most urgent first.

    A fixed number of small queries whatever the number of issues: one count per state (index
    ``issue_status_path``), the most urgent ``per_column`` ids of each open state (index
    ``issue_status_due``: read in deadline order, stops after ``per_column`` in scope), and one
    read of the rows shown.
    """
    base = board_scope(user, node=node, department=department)
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
    if connection.vendor != "sqlite":
        return list(page)
    sql, params = page.query.sql_with_params()
    table = connection.ops.quote_name(Issue._meta.db_table)
    sql = sql.replace(f"FROM {table}", f'FROM {table} INDEXED BY "issue_status_due"', 1)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(pk, _as_datetime(due)) for pk, due in cursor.fetchall()]


def _as_datetime(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return connection.ops.convert_datetimefield_value(
        value, Issue._meta.get_field("due_at"), connection
    )


def overdue_count(user: Any, now=None) -> int:
    now = now or timezone.now()
    return Issue.objects.visible_to(user).filter(status__in=OPEN_STATES, due_at__lt=now).count()


def county_for(user: Any) -> Node | None:
    """The county the user works in (the first of their places), for county-wide analysis."""
    scope = scope_for(user)
    for path in scope.node_paths:
        county = Node.objects.county_on_path(path)
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
