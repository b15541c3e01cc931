"""A campaign's live progress as the pages read it: only the ``Progress`` counters, never a
count over tasks or answers, so a county of 530,000 households reads as fast as a grid (one
query for a node and its children, one for a list of campaigns)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from minqing.menus.models import Campaign, Progress
from minqing.org.models import Node


@dataclass(frozen=True)
class ProgressRow:
    """The counters of one node, with what a page shows of them."""

    node: Node
    total: int = 0
    unassigned: int = 0
    home: int = 0
    phone: int = 0
    not_reached: int = 0
    issues: int = 0

    @property
    def done(self) -> int:
        return self.home + self.phone + self.not_reached

    @property
    def open(self) -> int:
        return self.total - self.done

    @property
    def percent(self) -> int | None:
        """Done of total, rounded down (100 only when every household is done)."""
        return self.done * 100 // self.total if self.total else None

    @classmethod
    def of(cls, progress: Progress) -> ProgressRow:
        return cls(
            node=progress.node,
            total=progress.total,
            unassigned=progress.unassigned,
            home=progress.home,
            phone=progress.phone,
            not_reached=progress.not_reached,
            issues=progress.issues,
        )


@dataclass(frozen=True)
class NodeProgress:
    here: ProgressRow
    children: list[ProgressRow]


def node_progress(campaign: Campaign, node: Node) -> NodeProgress:
    """The counters of ``node`` and of its children in one query (children in the tree's
    order). A node without a row (outside the scope, or no household yet) reads as zeros."""
    # The node ids as a subquery of the same statement: each row is then one probe of the
    # (campaign, node) unique index, whatever the number of counters the campaign has.
    nodes = Node.objects.filter(Q(pk=node.pk) | Q(parent_id=node.pk)).values("pk")
    rows = (
        Progress.objects.filter(campaign=campaign, node_id__in=nodes)
        .select_related("node")
        .order_by("node__sort_key", "node__name", "node_id")
    )
    here = ProgressRow(node=node)
    children: list[ProgressRow] = []
    for p in rows:
        if p.node_id == node.pk:
            p.node = node
            here = ProgressRow.of(p)
        else:
            children.append(ProgressRow.of(p))
    return NodeProgress(here, children)


def campaigns_progress(campaigns: list[Campaign], node: Node) -> dict[int, ProgressRow]:
    """``{campaign id: its counters}`` as seen from ``node``: at the node when the campaign
    covers it, else at the campaign's scope (a town's campaign on the county's page). One query."""
    wanted = {
        c.pk: (node.pk if node.path.startswith(c.scope_path) else c.scope_id) for c in campaigns
    }
    if not wanted:
        return {}
    rows = Progress.objects.filter(
        campaign_id__in=list(wanted), node_id__in=set(wanted.values())
    ).select_related("node")
    out: dict[int, ProgressRow] = {}
    for p in rows:
        if wanted.get(p.campaign_id) == p.node_id:
            out[p.campaign_id] = ProgressRow.of(p)
    return out
