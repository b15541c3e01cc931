"""Reads of issues: jurisdiction, boards, timelines. Out-of-scope issues are simply absent."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

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


def board_queryset(user: Any, *, node=None, department=None) -> QuerySet:
    qs = Issue.objects.visible_to(user).filter(status__in=OPEN_STATES)
    if node is not None:
        qs = qs.filter(subtree_q(node.path, "node_path"))
    if department is not None:
        qs = qs.filter(owner_department=department)
    return qs


def board(user: Any, *, node=None, department=None, per_column: int = 50) -> list[BoardColumn]:
    """派单台 — open issues grouped by what they wait for, most urgent first.

    Four small queries whatever the number of issues: one count per status group, and one page
    of the most urgent rows per group (index ``issue_town_board`` / ``issue_status_level``).
    """
    from django.utils.translation import gettext as _

    base = board_queryset(user, node=node, department=department)
    groups = [
        ("to_dispatch", _("Waiting for dispatch"), [Status.REGISTERED, Status.RETURNED]),
        ("to_accept", _("Waiting to be accepted"), [Status.DISPATCHED]),
        ("in_hand", _("Being handled"), [Status.ACCEPTED, Status.IN_PROGRESS, Status.REOPENED]),
    ]
    counts = dict(
        base.values("status").annotate(n=Count("id")).values_list("status", "n").order_by()
    )
    columns = []
    for key, label, states in groups:
        rows = list(
            base.filter(status__in=states)
            .select_related("village", "town", "category", "owner_node", "owner_department")
            .order_by("due_at", "id")[:per_column]
        )
        columns.append(BoardColumn(key, label, rows, sum(counts.get(s, 0) for s in states)))
    return columns


def overdue_count(user: Any, now=None) -> int:
    now = now or timezone.now()
    return Issue.objects.visible_to(user).filter(status__in=OPEN_STATES, due_at__lt=now).count()


def county_for(user: Any) -> Node | None:
    """The county the user works in (the first of their places), for county-wide analysis."""
    scope = scope_for(user)
    for path in scope.node_paths:
        ids = [int(p) for p in path.strip("/").split("/") if p]
        county = Node.objects.filter(pk__in=ids, level=Level.COUNTY).first()
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
    """The issues a household raised or joined as a reporter, newest first (one query)."""
    reported = IssueReporter.objects.filter(household=household).values("issue_id")
    return list(
        Issue.objects.visible_to(user)
        .filter(Q(household=household) | Q(pk__in=reported))
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
