"""Reading household archives. Functions that take the user apply their scope; the others
take objects the caller has already fetched through a scoped queryset."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Prefetch, Q, QuerySet

from minqing.accounts.scope import scope_for
from minqing.households.models import ArchiveChange, Household, HouseholdTag, Resident
from minqing.lib import ratelimit
from minqing.lib.crypto import blind_index
from minqing.lib.idcard import (
    looks_like_id_number,
    looks_like_phone,
    normalize_id_number,
    normalize_phone,
)
from minqing.lib.sqlite_plans import rows_reading
from minqing.org.models import Node, subtree_q

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


def search_issues(user: Any, query: str, limit: int = ISSUE_LIMIT) -> tuple[bool, list[Any]]:
    """Issues the reader may see, by number or by the words of their title and description.

    Returns (the query was an issue number, the issues). A number finds that one issue (two
    queries: the scope and the row); words find the newest visible issues containing them, among
    the newest ``ISSUE_WORDS_WINDOW`` the reader can see, read backwards along the primary key
    until ``limit`` are found.
    """
    from minqing.issues.models import Issue

    text = unicodedata.normalize("NFKC", query).strip()
    visible = Issue.objects.visible_to(user).select_related(
        "village", "category", "owner_node", "owner_department"
    )
    number = ISSUE_NUMBER.match(text)
    if number:
        return True, list(visible.filter(pk=int(number.group(1))))
    if len(text) < 2:
        return False, []
    words = text.split()
    qs = visible
    floor = _newest_window_floor(Issue.objects.visible_to(user))
    if floor is not None:
        qs = qs.filter(id__gte=floor)
    for word in words[:4]:
        qs = qs.filter(Q(title__icontains=word) | Q(description__icontains=word))
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
        households = Household.objects.filter(scope.node_q("node__path")).select_related("village")
        return SearchResults(
            query=query,
            kind="phone",
            residents=list(residents.filter(phone_hash=digest)[:limit]),
            households=list(households.filter(phone_hash=digest)[:limit]),
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


# --------------------------------------------------------------------------- stale edits


@dataclass
class Conflict:
    """One field someone else changed after the editor opened the page (a 409)."""

    field: str
    label: str
    theirs: str  # what is recorded now, as shown
    yours: str  # what the editor typed, as shown
    changes: list[ArchiveChange]  # who changed it, when (newest first)
    default: str  # "theirs" when the editor left the field as it was, else "mine"


#: The household form's fields that the change history names (beyond HOUSEHOLD_FIELDS).
EXTRA_FIELDS = ("tags", "node")


def changes_since(household: Household, base_version: int, limit: int = 50) -> list[ArchiveChange]:
    """The changes made after ``base_version``: every version step writes one history row, so
    they are the newest ``version - base_version`` rows (one query)."""
    steps = max(0, min(household.version - base_version, limit))
    if not steps:
        return []
    return list(household.changes.select_related("actor").order_by("-at", "-id")[:steps])


def _shown(field_name: str, value: Any) -> str:
    from minqing.households.services import _raw

    if field_name == "tags":
        return "、".join(sorted(t.name for t in value or ()))
    return _raw(value)


def stale_conflicts(
    household: Household, base_version: int, yours: dict[str, Any], labels: dict[str, str]
) -> list[Conflict]:
    """What changed since the editor's version, field by field, beside what they typed.

    ``yours`` is the form's cleaned data; a blank confidential field keeps the record, so it
    never conflicts. Fields the other person changed come from the history; when the history
    cannot say (older rows), every field that differs from the record is listed.
    """
    from minqing.households.services import HOUSEHOLD_FIELDS, SENSITIVE_FIELDS
    from minqing.lib.masking import mask_phone, mask_text

    fields = [*HOUSEHOLD_FIELDS, *EXTRA_FIELDS]
    rows = [c for c in changes_since(household, base_version) if not c.resident_name]
    touched: dict[str, list[ArchiveChange]] = {}
    before: dict[str, str] = {}
    for change in rows:  # newest first: the last one seen is the oldest change of the field
        for name, old, _new in change.changes:
            touched.setdefault(name, []).append(change)
            before[name] = old
    if not touched:
        touched = {f: [] for f in fields}
    current = {f: getattr(household, f) for f in HOUSEHOLD_FIELDS}
    current["tags"] = list(household.tags.all())
    current["node"] = household.node
    found: list[Conflict] = []
    for name in fields:
        if name not in touched or name not in yours:
            continue
        mine = yours[name]
        if name in SENSITIVE_FIELDS:
            if not mine:
                continue  # blank keeps what is recorded
            masked = mask_phone(mine) if name == "phone" else mask_text(mine)
            found.append(
                Conflict(name, labels.get(name, name), "******", masked, touched[name], "mine")
            )
            continue
        if name == "node" and mine is None:
            continue
        theirs, typed = _shown(name, current[name]), _shown(name, mine)
        if theirs == typed:
            continue
        untouched = name in before and typed == _shown_history(name, before[name])
        found.append(
            Conflict(
                name,
                labels.get(name, name),
                theirs,
                typed,
                touched[name],
                "theirs" if untouched else "mine",
            )
        )
    return found


def _shown_history(field_name: str, value: str) -> str:
    """A history value as ``_shown`` would show it (tags are stored joined, in any order)."""
    if field_name == "tags":
        return "、".join(sorted(v for v in value.split("、") if v))
    return value


def member_conflicts(
    resident: Resident, base_version: int, yours: dict[str, Any], labels: dict[str, str]
) -> list[Conflict]:
    """A member's stale edit: what the other person changed since ``base_version`` (each
    member change steps the version once and writes one history row naming the member),
    beside what the editor typed. Confidential values and the birth date show masked."""
    from minqing.households.services import RESIDENT_FIELDS

    steps = max(0, min(resident.version - base_version, 50))
    rows = list(
        resident.household.changes.filter(
            resident_name=resident.name, action=ArchiveChange.Action.UPDATE
        )
        .select_related("actor")
        .order_by("-at", "-id")[:steps]
    )
    return _field_conflicts(rows, RESIDENT_FIELDS, resident, yours, labels)


def archive_conflicts(
    archive: Any, base_version: int, yours: dict[str, Any], labels: dict[str, str]
) -> list[Conflict]:
    """A village archive's stale edit: each change steps the version and writes one row."""
    steps = max(0, min(archive.version - base_version, 50))
    rows = list(
        ArchiveChange.objects.filter(village_id=archive.village_id, household__isnull=True)
        .select_related("actor")
        .order_by("-at", "-id")[:steps]
    )
    fields = tuple(name for name in labels if name != "version")
    return _field_conflicts(rows, fields, archive, yours, labels)


def _field_conflicts(
    rows: list[ArchiveChange],
    fields: tuple[str, ...],
    current: Any,
    yours: dict[str, Any],
    labels: dict[str, str],
) -> list[Conflict]:
    """The fields the history ``rows`` (newest first) changed, beside what the editor typed;
    "theirs" is the default where the editor had left the field as it was."""
    from minqing.households.services import SENSITIVE_FIELDS
    from minqing.lib.masking import mask_birth_date

    touched: dict[str, list[ArchiveChange]] = {}
    before: dict[str, str] = {}
    for change in rows:
        for name, old, _new in change.changes:
            touched.setdefault(name, []).append(change)
            before[name] = old
    found: list[Conflict] = []
    for name in fields:
        if name not in touched or name not in yours:
            continue
        mine = yours[name]
        if name in SENSITIVE_FIELDS or name == "birth_date":
            if not mine:
                continue  # blank keeps what is recorded
            shown = "******" if name in SENSITIVE_FIELDS else mask_birth_date(mine)
            label = labels.get(name, name)
            found.append(Conflict(name, label, "******", shown, touched[name], "mine"))
            continue
        theirs, typed = _shown(name, getattr(current, name)), _shown(name, mine)
        if theirs == typed:
            continue
        untouched = typed == before.get(name)
        found.append(
            Conflict(
                name,
                labels.get(name, name),
                theirs,
                typed,
                touched[name],
                "theirs" if untouched else "mine",
            )
        )
    return found


def _not_hidden_children(user: Any, query: str, residents: Any) -> list[Resident]:
    """A child whose record the reader may not see shows as its surname's character ("邱*");
    a name search longer than that does not find the child, for "邱*" found by "邱鑫" would
    tell the name the record withholds (a child's name in the free text)."""
    from minqing.accounts.permissions import minors_visible

    found = list(residents)
    if len(query) <= 1:
        return found
    return [r for r in found if minors_visible(user, r)]
