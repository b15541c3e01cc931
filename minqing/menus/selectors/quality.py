"""Quality signals a village can check (the issue's "answers given in implausibly little time,
the same answers across many households by one visitor")."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count

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
