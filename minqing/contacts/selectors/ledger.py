"""包保联系台账 read: the households of a place with their person of each active kind.

Functions here take a node the caller has already checked against the user's scope.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet

from minqing.contacts.models import ContactLink, Liaison
from minqing.contacts.selectors.coverage import coverage
from minqing.contacts.selectors.network import (
    ABOVE_VILLAGE,
    KindRule,
    household_scope_q,
    lacks_q,
)
from minqing.households.models import Household, HouseholdTag
from minqing.lib.fields import Sensitive
from minqing.org.models import Level, Node

_CHUNK = 1000


def ledger_places(node: Node) -> list[Node]:
    """The places the ledger can be narrowed to: the groups/grids of a village (or area), the
    villages of a town, the towns of a county."""
    if node.level in (Level.VILLAGE, Level.AREA):
        return list(Node.objects.subtree(node, include_self=False).order_by("path"))
    return list(node.children.order_by("sort_key", "name"))


def ledger_households(
    node: Node, rules: Sequence[KindRule], *, place: Node | None = None, missing: str = ""
) -> QuerySet[Household]:
    """Households of the ledger, in ledger order: village by village, by household number.

    ``place`` narrows to a node under ``node``; ``missing`` to households lacking one required
    kind (its value) or any of them (``"any"``).
    """
    qs = Household.objects.filter(household_scope_q(node))
    if place is not None and place.pk != node.pk:
        qs = qs.filter(household_scope_q(place))
        node = place
    if missing:
        wanted = [r for r in rules if r.required and missing in ("any", r.kind)]
        lacking = Q(pk__in=[])
        for rule in wanted:
            lacking |= lacks_q(rule)
        qs = qs.filter(lacking)
        if node.level in ABOVE_VILLAGE:
            # Look only in the villages the coverage counts (a few GROUP BY queries) say lack
            # someone, instead of checking every household of the town or county.
            report = coverage(node, wanted)
            qs = qs.filter(
                village_id__in=[
                    row["id"]
                    for row in report["rows"]
                    if any(row["kinds"][r.kind]["missing"] for r in wanted)
                ]
            )
    return qs.order_by("village__path", "number", "id")


@dataclass
class LedgerCell:
    """The household's person of one kind (or why there is none)."""

    kind: str
    name: str = ""
    phone: Sensitive | None = None
    #: the rule concerns this household (its tags match, or the rule has none)
    concerned: bool = True
    #: a required kind the household is concerned by and lacks
    missing: bool = False
    #: the linked person has stopped taking households (counts as missing)
    retired: bool = False
    liaison_id: int | None = None
    #: the kind's label, for the page (beside each cell on a phone)
    column: str = ""


@dataclass
class LedgerRow:
    """One household of the ledger with its people, kind by kind."""

    household_id: int
    number: str
    head_name: str
    village: str
    place: str
    tags: list[str]
    cells: list[LedgerCell] = field(default_factory=list)

    @property
    def missing(self) -> bool:
        return any(c.missing for c in self.cells)


class _Liaisons:
    """Liaisons by id, read once each, so a phone is decrypted once per person, not per row."""

    def __init__(self) -> None:
        self.known: dict[int, tuple[str, Sensitive | None, bool]] = {}

    def load(self, ids: Iterable[int]) -> None:
        wanted = [i for i in set(ids) if i not in self.known]
        for start in range(0, len(wanted), _CHUNK):
            for pk, name, phone, active in Liaison.objects.filter(
                pk__in=wanted[start : start + _CHUNK]
            ).values_list("id", "name", "phone", "active"):
                self.known[pk] = (name, phone, active)


class _Places:
    """The name of a household's place below its village ("一片/一组"), names read as needed."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}

    def load(self, paths: Iterable[str]) -> None:
        ids = {int(p) for path in paths for p in path.strip("/").split("/") if p}
        wanted = [i for i in ids if i not in self.names]
        for start in range(0, len(wanted), _CHUNK):
            self.names.update(
                Node.objects.filter(pk__in=wanted[start : start + _CHUNK]).values_list("id", "name")
            )

    def below(self, path: str, village_id: int) -> str:
        ids = [int(p) for p in path.strip("/").split("/") if p]
        below = ids[ids.index(village_id) + 1 :] if village_id in ids else []
        return "/".join(self.names.get(i, "") for i in below)


#: What ``ledger_rows`` reads of each household, as ``values_list`` tuples (no model instances:
#: an export of 30,000 households would spend most of its time building them).
LEDGER_FIELDS = ("id", "number", "head_name", "village_id", "node__path", "village__name")


def ledger_values(households: QuerySet[Household]) -> QuerySet[Any]:
    """``ledger_households(...)`` as the tuples ``ledger_rows`` takes."""
    return households.values_list(*LEDGER_FIELDS)


def ledger_rows(
    households: Iterable[tuple], rules: Sequence[KindRule], *, chunk: int = _CHUNK
) -> Iterator[LedgerRow]:
    """Ledger rows for ``ledger_values(...)`` tuples, a chunk at a time: three queries per
    chunk whatever the number of kinds, plus one per chunk for liaisons and places not met yet.
    """
    tag_names = dict(HouseholdTag.objects.values_list("id", "name"))
    tag_order = {pk: i for i, pk in enumerate(HouseholdTag.objects.values_list("id", flat=True))}
    liaisons = _Liaisons()
    places = _Places()
    batch: list[tuple] = []
    for household in households:
        batch.append(household)
        if len(batch) >= chunk:
            yield from _rows(batch, rules, tag_names, tag_order, liaisons, places)
            batch = []
    if batch:
        yield from _rows(batch, rules, tag_names, tag_order, liaisons, places)


def _rows(
    batch: list[tuple],
    rules: Sequence[KindRule],
    tag_names: dict[int, str],
    tag_order: dict[int, int],
    liaisons: _Liaisons,
    places: _Places,
) -> Iterator[LedgerRow]:
    ids = [h[0] for h in batch]
    tags: dict[int, list[int]] = defaultdict(list)
    for household_id, tag_id in Household.tags.through.objects.filter(
        household_id__in=ids
    ).values_list("household_id", "householdtag_id"):
        tags[household_id].append(tag_id)
    links: dict[tuple[int, str], int] = {}
    for household_id, kind, liaison_id in (
        ContactLink.objects.current()
        .filter(household_id__in=ids, kind__in=[r.kind for r in rules])
        .values_list("household_id", "kind", "liaison_id")
    ):
        links[(household_id, kind)] = liaison_id
    liaisons.load(links.values())
    places.load(h[4] for h in batch)
    for pk, number, head_name, village_id, path, village_name in batch:
        own = sorted(tags.get(pk, []), key=lambda t: tag_order.get(t, 0))
        row = LedgerRow(
            household_id=pk,
            number=number,
            head_name=head_name,
            village=village_name,
            place=places.below(path, village_id),
            tags=[tag_names.get(t, "") for t in own],
        )
        for rule in rules:
            cell = LedgerCell(kind=rule.kind, concerned=rule.concerns(own))
            linked_id = links.get((pk, rule.kind))
            if linked_id is not None and linked_id in liaisons.known:
                cell.name, cell.phone, active = liaisons.known[linked_id]
                cell.liaison_id = linked_id
                cell.retired = not active
            cell.missing = rule.required and cell.concerned and (linked_id is None or cell.retired)
            row.cells.append(cell)
        yield row


def place_path(node: Node) -> str:
    """ "谯城区/古井镇/王庄村": the place from its county (or the highest node) down."""
    ancestors = list(Node.objects.ancestors_of(node).values_list("name", "level"))
    start = next((i for i, (_name, level) in enumerate(ancestors) if level == Level.COUNTY), 0)
    return "/".join([*(name for name, _level in ancestors[start:]), node.name])
