"""Quality signals a village can check (the issue's "answers given in implausibly little time,
the same answers across many households by one visitor")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, QuerySet

from minqing.menus.models import Campaign, Response


@dataclass(frozen=True)
class SameAnswers:
    visitor_id: int
    answers_hash: str
    households: int


def same_answers(campaign: Campaign, path: str, limit: int | None = None) -> list[SameAnswers]:
    """Visitors who gave exactly the same answers in at least ``limit`` households (the
    campaign's ``same_answers_limit``) under ``path``: one indexed GROUP BY."""
    from minqing.org.models import subtree_q

    n = limit or campaign.same_answers_limit
    rows = (
        Response.objects.filter(subtree_q(path, "task__node_path"), task__campaign=campaign)
        .exclude(answers_hash="")
        .values("visitor_id", "answers_hash")
        .annotate(n=Count("id"))
        .filter(n__gte=n)
        .order_by("-n", "visitor_id")
    )
    return [SameAnswers(r["visitor_id"], r["answers_hash"], r["n"]) for r in rows]


def too_fast(campaign: Campaign, path: str) -> int:
    from minqing.org.models import subtree_q

    return Response.objects.filter(
        subtree_q(path, "task__node_path"), task__campaign=campaign, too_fast=True
    ).count()


@dataclass(frozen=True)
class Record:
    """One record a quality signal points at (its household, visitor and how long it took)."""

    response_id: int
    task_id: int
    household_id: int
    household_number: str
    village_id: int
    village_name: str
    visitor_id: int
    visitor_name: str
    outcome: str
    started_at: dt.datetime | None
    finished_at: dt.datetime
    answers_hash: str

    @property
    def seconds(self) -> int | None:
        if self.started_at is None:
            return None
        return int((self.finished_at - self.started_at).total_seconds())


RECORD_FIELDS = (
    "pk",
    "task_id",
    "task__household_id",
    "task__household__number",
    "task__village_id",
    "task__village__name",
    "visitor_id",
    "visitor__full_name",
    "outcome",
    "started_at",
    "finished_at",
    "answers_hash",
)


def _records(qs: QuerySet[Response]) -> list[Record]:
    return [Record(*row) for row in qs.values_list(*RECORD_FIELDS)]


def too_fast_records(campaign: Campaign, path: str, limit: int = 200) -> list[Record]:
    """The records made faster than the campaign's ``min_seconds`` under ``path``, the most
    recent first (at most ``limit``: ``too_fast`` gives how many there are)."""
    from minqing.org.models import subtree_q

    qs = Response.objects.filter(
        subtree_q(path, "task__node_path"), task__campaign=campaign, too_fast=True
    ).order_by("-finished_at", "-pk")
    return _records(qs[:limit])


def same_answers_records(
    campaign: Campaign, path: str, groups: list[SameAnswers], limit: int = 500
) -> dict[tuple[int, str], list[Record]]:
    """The households behind each ``same_answers`` group, in one query."""
    from minqing.org.models import subtree_q

    if not groups:
        return {}
    qs = Response.objects.filter(
        subtree_q(path, "task__node_path"),
        task__campaign=campaign,
        visitor_id__in={g.visitor_id for g in groups},
        answers_hash__in={g.answers_hash for g in groups},
    ).order_by("task__node_path", "task__household__number", "pk")
    out: dict[tuple[int, str], list[Record]] = {(g.visitor_id, g.answers_hash): [] for g in groups}
    for record in _records(qs[:limit]):
        key = (record.visitor_id, record.answers_hash)
        if key in out:
            out[key].append(record)
    return out
