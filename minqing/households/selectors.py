"""Reading household archives. Functions that take the user apply their scope; the others
take objects the caller has already fetched through a scoped queryset."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Prefetch, Q, QuerySet

from minqing.accounts.scope import scope_for
from minqing.households.models import ArchiveChange, Household, HouseholdTag, Resident
from minqing.lib.crypto import blind_index
from minqing.lib.idcard import (
    looks_like_id_number,
    looks_like_phone,
    normalize_id_number,
    normalize_phone,
)
from minqing.org.models import Node, subtree_q

SEARCH_LIMIT = 50


def prefix_q(field_name: str, prefix: str) -> Q:
    """Index-friendly "starts with" on both databases.

    On PostgreSQL the search columns use the C collation (migration households 0005), so
    LIKE 'x%' and ORDER BY share the plain b-tree index. SQLite's LIKE (case-insensitive, with
    ESCAPE) cannot use an index, but a range on its binary collation can.
    """
    if connection.vendor == "sqlite":
        return Q(**{f"{field_name}__gte": prefix, f"{field_name}__lt": prefix + "\U0010ffff"})
    return Q(**{f"{field_name}__startswith": prefix})


def household_for_page(user: Any, pk: int) -> Household:
    """One household with everything its page shows, in a fixed number of queries."""
    return (
        Household.objects.visible_to(user)
        .select_related("node", "village")
        .prefetch_related(
            Prefetch("tags", queryset=HouseholdTag.objects.order_by("sort_key")),
            Prefetch("members", queryset=Resident.objects.order_by("id")),
        )
        .get(pk=pk)
    )


def household_changes(household: Household, limit: int = 30) -> QuerySet[ArchiveChange]:
    return household.changes.select_related("actor").order_by("-at", "-id")[:limit]


def village_households(
    village: Node, *, node: Node | None = None, tag: str = ""
) -> QuerySet[Household]:
    """Households of a village (or one of its groups), for the paged village list."""
    qs = Household.objects.filter(village=village)
    if node is not None and node.pk != village.pk:
        qs = qs.filter(subtree_q(node.path, "node__path"))
    if tag:
        qs = qs.filter(tags__code=tag)
    return qs.select_related("node").prefetch_related("tags").order_by("number")


@dataclass
class SearchResults:
    """What a search found, each list already limited and scoped."""

    query: str
    kind: str  # "id_number", "phone" or "text"
    households: list[Household] = field(default_factory=list)
    residents: list[Resident] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.households) + len(self.residents) + len(self.nodes)


def search(user: Any, query: str, limit: int = SEARCH_LIMIT) -> SearchResults:
    """Search by exact ID number, exact phone, or name / address / place-name prefix.

    ID numbers and phones are matched through their keyed hash, never decrypted for the search.
    """
    query = (query or "").strip()[:50]
    scope = scope_for(user)
    if not query:
        return SearchResults(query=query, kind="text")
    residents = Resident.objects.filter(scope.node_q("household__node__path")).select_related(
        "household", "household__village"
    )
    if looks_like_id_number(query):
        digest = blind_index(normalize_id_number(query), "id_number")
        return SearchResults(
            query=query,
            kind="id_number",
            residents=list(residents.filter(id_number_hash=digest)[:limit]),
        )
    if looks_like_phone(query):
        digest = blind_index(normalize_phone(query), "phone")
        households = Household.objects.filter(scope.node_q("node__path")).select_related("village")
        return SearchResults(
            query=query,
            kind="phone",
            residents=list(residents.filter(phone_hash=digest)[:limit]),
            households=list(households.filter(phone_hash=digest)[:limit]),
        )
    in_scope = Household.objects.filter(scope.node_q("node__path")).select_related(
        "village", "node"
    )
    # One indexed query per column: an OR across columns defeats the indexes.
    found: dict[int, Household] = {}
    for condition, order in (
        (prefix_q("head_name", query), "head_name"),
        (Q(number=query), "number"),
        (prefix_q("address", query), "address"),
    ):
        for household in in_scope.filter(condition).order_by(order, "id")[:limit]:
            found.setdefault(household.pk, household)
    households = list(found.values())[:limit]
    nodes = (
        Node.objects.filter(scope.node_q("path"))
        .filter(prefix_q("name", query))
        .order_by("depth", "name")[:limit]
    )
    return SearchResults(
        query=query,
        kind="text",
        households=households,
        residents=list(residents.filter(prefix_q("name", query)).order_by("name", "id")[:limit]),
        nodes=list(nodes),
    )
