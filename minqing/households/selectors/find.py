"""The search page and the API's search: households, residents, places and issues.

Issues belong to an app above households: the issues app registers how they are searched
(``register_issue_search``, from its ``AppConfig.ready()``), so households imports none of it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from minqing.accounts.permissions import minors_visible
from minqing.accounts.scope import scope_for
from minqing.households.models import Household, Resident
from minqing.lib import ratelimit
from minqing.lib.crypto import blind_index
from minqing.lib.idcard import (
    looks_like_id_number,
    looks_like_phone,
    normalize_id_number,
    normalize_phone,
)
from minqing.lib.sqlite_plans import rows_reading
from minqing.org.models import Node

SEARCH_LIMIT = 50
#: A run of digits as long as a landline: an ID number, a phone, or a part of one.
_PRIVATE_DIGITS = re.compile(r"\d{7,}")


def query_is_private(query: str) -> bool:
    """Is this search for personal numbers? Then it travels in a POST body, never in a URL
    (proxies and server logs keep URLs)."""
    digits = re.sub(r"[\s\-_.()]", "", unicodedata.normalize("NFKC", query or ""))
    return bool(_PRIVATE_DIGITS.search(digits))


def prefix_q(field_name: str, prefix: str) -> Q:
    """Index-friendly "starts with" on both databases.

    On PostgreSQL the search columns use the C collation (``db_collation`` on the fields,
    minqing.lib.collations), so LIKE 'x%' and ORDER BY share the plain b-tree index. SQLite's LIKE
    (case-insensitive, with ESCAPE) cannot use an index, but a range on its binary collation can.
    """
    if connection.vendor == "sqlite":
        return Q(**{f"{field_name}__gte": prefix, f"{field_name}__lt": prefix + "\U0010ffff"})
    return Q(**{f"{field_name}__startswith": prefix})


@dataclass
class SearchResults:
    """What a search found, each list already limited and scoped."""

    query: str
    kind: str  # "id_number", "phone" or "text"
    households: list[Household] = field(default_factory=list)
    residents: list[Resident] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    issues: list[Any] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.households) + len(self.residents) + len(self.nodes) + len(self.issues)


#: "426", "#426", "＃426" (NFKC folds the full-width sign), "# 426": an issue number.
ISSUE_NUMBER = re.compile(r"^#?\s*(\d{1,9})$")
#: Issues found by their words: the newest this many.
ISSUE_LIMIT = 20
#: Words are looked for among the newest this many issues the reader can see: a LIKE cannot use
#: an index, and unbounded it read a county's 150,000 issues for a name that is in none of them
#: (the name search then took 260 ms). Older issues are found by their number.
ISSUE_WORDS_WINDOW = 5000


#: How the issues app answers a search: ``(user, query) -> (the query was an issue number,
#: the issues)``, most often through ``search_numbered`` over the issues the user may see.
IssueSearch = Callable[[Any, str], tuple[bool, list[Any]]]
_issue_search: list[IssueSearch] = []


def register_issue_search(hook: IssueSearch) -> None:
    """The issues app's search (one; registering again replaces it)."""
    _issue_search[:] = [hook]


def search_issues(user: Any, query: str) -> tuple[bool, list[Any]]:
    """Issues the reader may see, through the registered hook (none registered: none)."""
    return _issue_search[0](user, query) if _issue_search else (False, [])


def search_numbered(
    visible: QuerySet, query: str, words_in: tuple[str, ...], limit: int = ISSUE_LIMIT
) -> tuple[bool, list[Any]]:
    """Records of ``visible`` (the reader's, with what their rows show selected), by number or
    by the words of the ``words_in`` fields.

    Returns (the query was a record number, the records). A number finds that one record (two
    queries: the scope and the row); words find the newest visible records containing them,
    among the newest ``ISSUE_WORDS_WINDOW`` the reader can see, read backwards along the
    primary key until ``limit`` are found.
    """
    text = unicodedata.normalize("NFKC", query).strip()
    number = ISSUE_NUMBER.match(text)
    if number:
        return True, list(visible.filter(pk=int(number.group(1))))
    if len(text) < 2:
        return False, []
    words = text.split()
    qs = visible
    floor = _newest_window_floor(visible)
    if floor is not None:
        qs = qs.filter(id__gte=floor)
    for word in words[:4]:
        condition = Q()
        for name in words_in:
            condition |= Q(**{f"{name}__icontains": word})
        qs = qs.filter(condition)
    qs = qs.order_by("-id")
    if floor is None:
        return False, list(qs[:limit])
    ids = _walking_the_primary_key(qs.values_list("id", flat=True)[:limit])
    found = qs.in_bulk(ids)
    return False, [found[pk] for pk in ids if pk in found]


def _newest_window_floor(visible: QuerySet) -> int | None:
    """The id of the ``ISSUE_WORDS_WINDOW``-th newest issue in ``visible``, or None when there
    are fewer (then every one of them is searched: a narrow scope's own index range)."""
    if visible.order_by().values("id")[:ISSUE_WORDS_WINDOW].count() < ISSUE_WORDS_WINDOW:
        return None
    page = visible.order_by("-id").values_list("id", flat=True)
    ids = _walking_the_primary_key(page[ISSUE_WORDS_WINDOW - 1 : ISSUE_WORDS_WINDOW])
    return ids[0] if ids else None


def _walking_the_primary_key(page: QuerySet) -> list[int]:
    """The ids of ``page`` (ordered by -id), read along the primary key: for a wide scope (a
    county, a town, a department's queue) SQLite would read the whole path range and sort it;
    walking the table backwards from the newest row it stops at the page's end."""
    return [row[0] for row in rows_reading(page, "NOT INDEXED")]


def search(user: Any, query: str, limit: int = SEARCH_LIMIT) -> SearchResults:
    """Search by exact ID number, exact phone, or name / address / place-name prefix.

    ID numbers and phones are matched through their keyed hash, never decrypted for the search.
    """
    if (query or "").strip():
        ratelimit.consume("search", user)
    query = (query or "").strip()[:50]
    scope = scope_for(user)
    if not query:
        return SearchResults(query=query, kind="text")
    residents = Resident.objects.filter(scope.node_q("household__node__path")).select_related(
        "household", "household__village", "household__node"
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
        by_phone = Household.objects.filter(scope.node_q("node__path")).select_related("village")
        return SearchResults(
            query=query,
            kind="phone",
            residents=list(residents.filter(phone_hash=digest)[:limit]),
            households=list(by_phone.filter(phone_hash=digest)[:limit]),
        )
    is_number, issues = search_issues(user, query)
    if is_number and not query.strip().isdigit():
        # "#426" names an issue, nothing else.
        return SearchResults(query=query, kind="text", issues=issues)
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
        residents=_not_hidden_children(
            user, query, residents.filter(prefix_q("name", query)).order_by("name", "id")[:limit]
        ),
        nodes=list(nodes),
        issues=issues,
    )


def _not_hidden_children(user: Any, query: str, residents: Any) -> list[Resident]:
    """A child whose record the reader may not see shows as its surname's character ("邱*");
    a name search longer than that does not find the child, for "邱*" found by "邱鑫" would
    tell the name the record withholds (a child's name in the free text)."""
    found = list(residents)
    if len(query) <= 1:
        return found
    return [r for r in found if minors_visible(user, r)]
