"""Reading the contact network: the ledger's rows (包保联系台账) and the coverage report (覆盖情况).

A household is *covered* for a kind when it has a current link of that kind to a liaison who is
still active; a retired liaison's households count as missing until the next assignment run
moves them (``services.liaison_retire``). A kind whose rule names tags only concerns households
carrying one of them (``AssignmentRule.eligible_tags``).

Functions here take a node the caller has already checked against the user's scope.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from minqing.contacts.models import AssignmentRule, ContactLink, Liaison, LiaisonKind
from minqing.contacts.services import county_of, rules_for
from minqing.households.models import Household, HouseholdTag
from minqing.lib.fields import Sensitive
from minqing.org.models import Level, Node, subtree_q

#: Levels whose reports and ledgers go village by village; below them, grid by grid.
ABOVE_VILLAGE = (Level.PROVINCE, Level.CITY, Level.COUNTY, Level.TOWN)
_KIND_ORDER = {kind: i for i, kind in enumerate(LiaisonKind.values)}
_CHUNK = 1000


@dataclass(frozen=True)
class KindRule:
    """What the ledger and the report need of one active assignment rule."""

    kind: str
    label: str
    required: bool
    #: ids of the tags that make a household eligible; empty: every household
    tags: frozenset[int] = frozenset()

    def concerns(self, tag_ids: Iterable[int]) -> bool:
        return not self.tags or bool(self.tags & set(tag_ids))


def kind_rules(node: Node) -> list[KindRule]:
    """The active rules of the node's county, in the order of ``LiaisonKind``.

    Raises ``ValidationError`` for a node that is not inside one county (province, city).
    """
    rules = [r for r in rules_for(county_of(node)).values() if r.active]
    tags: dict[int, set[int]] = defaultdict(set)
    for rule_id, tag_id in AssignmentRule.eligible_tags.through.objects.filter(
        assignmentrule_id__in=[r.pk for r in rules]
    ).values_list("assignmentrule_id", "householdtag_id"):
        tags[rule_id].add(tag_id)
    return [
        KindRule(
            kind=r.kind,
            label=str(LiaisonKind(r.kind).label),
            required=r.required,
            tags=frozenset(tags[r.pk]),
        )
        for r in sorted(rules, key=lambda r: _KIND_ORDER.get(r.kind, 99))
    ]


def household_scope_q(node: Node, prefix: str = "") -> Q:
    """Households under ``node``, written so the database can use the village index."""
    if node.level in ABOVE_VILLAGE:
        villages = Node.objects.filter(subtree_q(node.path), level=Level.VILLAGE).values("id")
        return Q(**{f"{prefix}village_id__in": villages})
    if node.level == Level.VILLAGE:
        return Q(**{f"{prefix}village_id": node.pk})
    return subtree_q(node.path, f"{prefix}node__path")


def covered_q(rule: KindRule) -> Q:
    """Households with a current link of the rule's kind to a liaison still active.

    Written as "linked, and not among the households of retired liaisons" rather than a join on
    every link: the first part is an index-only probe per household (link_one_current_per_kind),
    the second a short list the database builds once from the retired liaisons' links.
    """
    linked = Exists(
        ContactLink.objects.filter(household=OuterRef("pk"), kind=rule.kind, ended_at__isnull=True)
    )
    return Q(linked) & ~Q(pk__in=_retired_links(rule))


def _retired_links(rule: KindRule) -> QuerySet[Any]:
    return (
        ContactLink.objects.filter(kind=rule.kind, ended_at__isnull=True, liaison__active=False)
        .order_by()
        .values("household_id")
    )


def _eligible(rule: KindRule, household_ref: Any) -> Exists:
    return Exists(
        Household.tags.through.objects.filter(
            household_id=household_ref, householdtag_id__in=sorted(rule.tags)
        )
    )


def lacks_q(rule: KindRule) -> Q:
    """Households the rule concerns that have no active liaison of its kind."""
    q = ~covered_q(rule)
    if rule.tags:
        q &= Q(_eligible(rule, OuterRef("pk")))
    return q


# --------------------------------------------------------------------------- the ledger


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
            liaison_id = links.get((pk, rule.kind))
            if liaison_id is not None and liaison_id in liaisons.known:
                cell.name, cell.phone, active = liaisons.known[liaison_id]
                cell.liaison_id = liaison_id
                cell.retired = not active
            cell.missing = rule.required and cell.concerned and (liaison_id is None or cell.retired)
            row.cells.append(cell)
        yield row


# --------------------------------------------------------------------------- coverage

#: Kinds whose current links always join a household and a liaison of one village: the engine
#: works village by village, ``link_set`` refuses other villages (cadres' "1+1" pairing aside),
#: ``liaison_update`` and household moves stay within the village.
SAME_VILLAGE_KINDS = frozenset(LiaisonKind.values) - {LiaisonKind.CADRE}


def _row_nodes(node: Node) -> tuple[bool, list[Node]]:
    """Whether the rows are villages, and the candidate row nodes in tree order."""
    if node.level in ABOVE_VILLAGE:
        villages = Node.objects.filter(subtree_q(node.path), level=Level.VILLAGE)
        return True, list(villages.order_by("path").only("id", "name", "path", "level"))
    subtree = Node.objects.subtree(node).order_by("path").only("id", "name", "path", "level")
    return False, list(subtree)


def _row_name(group: Node, node: Node, names: dict[int, str]) -> str:
    """Below a village, the path under the report's node ("一片/一组")."""
    if group.pk == node.pk:
        return group.name
    ids = [int(p) for p in group.path.strip("/").split("/") if p]
    below = ids[ids.index(node.pk) + 1 :] if node.pk in ids else [group.pk]
    return "/".join(names.get(i, "") for i in below)


@dataclass
class _Loads:
    """The loads of one kind's liaisons in one row."""

    count: int = 0
    total: int = 0
    low: int | None = None
    high: int | None = None

    def add(self, load: int) -> None:
        self.count += 1
        self.total += load
        self.low = load if self.low is None else min(self.low, load)
        self.high = load if self.high is None else max(self.high, load)

    def merge(self, other: _Loads) -> None:
        if other.count:
            self.count += other.count
            self.total += other.total
            self.low = other.low if self.low is None else min(self.low, other.low or 0)
            self.high = other.high if self.high is None else max(self.high, other.high or 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "liaisons": self.count,
            "load_min": self.low,
            "load_avg": round(self.total / self.count, 1) if self.count else None,
            "load_max": self.high,
        }


def coverage(node: Node, rules: Sequence[KindRule] | None = None) -> dict[str, Any]:
    """覆盖情况 — per village (per group/grid at or below a village) and per required active
    kind: households, how many are covered and missing, and the liaisons' loads.

    A fixed number of GROUP BY queries, whatever the size of the place: households per row; the
    active liaisons with their number of current households (their loads, and — above a
    village, for the kinds in ``SAME_VILLAGE_KINDS`` — the covered households of their village:
    an index-only count); covered households per row counted on the households' side below a
    village and for the other kinds; eligible households per row for kinds limited by tags.
    Returns plain data (ints, floats, strings, lists, dicts)::

        {
            "node": {"id": 1, "name": "谯城区", "level": "county"},
            "rows_are": "village",              # or "grid" at or below a village
            "kinds": [{"kind": "group_leader", "label": "Residents' group leader",
                       "tagged": False}, ...],  # the required active kinds, in kind order
            "households": 530000,
            "missing": 120,                     # the kinds' missing households, added up
            "complete": False,                  # True when nothing is missing for any kind
            "rows": [{"id": 7, "name": "王庄村", "households": 2000,
                      "kinds": {"group_leader": {"eligible": 2000, "covered": 1990,
                                                 "missing": 10, "liaisons": 20, "load_min": 90,
                                                 "load_avg": 99.5, "load_max": 120}, ...}},
                     ...],
            "totals": {"group_leader": {same keys as a row's kind}, ...},
        }

    ``eligible`` is how many households the kind concerns (all of them unless its rule names
    tags); ``missing = eligible - covered``. ``liaisons`` counts the kind's active liaisons who
    belong to the row (their village; below a village, their group/grid); ``load_*`` are their
    numbers of current households (``None`` without liaisons), the average to one decimal.
    Below a village, rows are the grids plus any other place holding households or liaisons.
    """
    rules = [r for r in (kind_rules(node) if rules is None else rules) if r.required]
    by_village, candidates = _row_nodes(node)
    key = "village_id" if by_village else "node_id"
    households = Household.objects.filter(household_scope_q(node)).order_by()

    count_by_row: dict[int, int] = {
        row[key]: row["n"] for row in households.values(key).annotate(n=Count("id"))
    }

    # The liaisons and their loads: one correlated index-only count per liaison.
    loads: dict[tuple[int, str], _Loads] = defaultdict(_Loads)
    if rules:
        # COUNT without GROUP BY: one index-only range count per liaison (link_current_liaison).
        load = (
            ContactLink.objects.filter(liaison=OuterRef("pk"), ended_at__isnull=True)
            .order_by()
            .annotate(n=Func(F("id"), function="COUNT"))
            .values("n")
        )
        people = Liaison.objects.filter(active=True, kind__in=[r.kind for r in rules])
        if by_village:
            people = people.filter(village_id__in=[v.pk for v in candidates])
        else:
            people = people.filter(subtree_q(node.path, "node__path"))
        for group, kind, n in (
            people.annotate(load=Coalesce(Subquery(load, output_field=IntegerField()), 0))
            .order_by()
            .values_list(key, "kind", "load")
        ):
            loads[(group, kind)].add(n)

    eligible: dict[str, dict[int, int]] = {}
    covered: dict[str, dict[int, int]] = {}
    by_households = []
    for rule in rules:
        if rule.tags:
            concerned = households.filter(_eligible(rule, OuterRef("pk")))
            eligible[rule.kind] = {
                row[key]: row["n"] for row in concerned.values(key).annotate(n=Count("id"))
            }
            covered[rule.kind] = {
                row[key]: row["n"]
                for row in concerned.filter(covered_q(rule)).values(key).annotate(n=Count("id"))
            }
            continue
        eligible[rule.kind] = count_by_row
        if by_village and rule.kind in SAME_VILLAGE_KINDS:
            covered[rule.kind] = {g: v.total for (g, k), v in loads.items() if k == rule.kind}
        else:
            by_households.append(rule.kind)
            covered[rule.kind] = {}
    if by_households:
        for row in (
            ContactLink.objects.filter(
                household_scope_q(node, "household__"),
                ended_at__isnull=True,
                kind__in=by_households,
            )
            .exclude(liaison_id__in=Liaison.objects.filter(active=False).values("id"))
            .order_by()
            .values(f"household__{key}", "kind")
            .annotate(n=Count("id"))
        ):
            covered[row["kind"]][row[f"household__{key}"]] = row["n"]

    with_people = {group for group, _kind in loads}
    names = {n.pk: n.name for n in candidates}
    rows: list[dict[str, Any]] = []
    totals = {r.kind: {"eligible": 0, "covered": 0, "missing": 0} for r in rules}
    total_loads = {r.kind: _Loads() for r in rules}
    for group in candidates:
        if not by_village and not (
            group.pk in count_by_row or group.pk in with_people or group.level == Level.GRID
        ):
            continue  # an area, or the village itself, with nothing directly in it
        row: dict[str, Any] = {
            "id": group.pk,
            "name": group.name if by_village else _row_name(group, node, names),
            "households": count_by_row.get(group.pk, 0),
            "kinds": {},
        }
        for rule in rules:
            n_eligible = eligible[rule.kind].get(group.pk, 0)
            n_covered = min(covered[rule.kind].get(group.pk, 0), n_eligible)
            people_row = loads.get((group.pk, rule.kind), _Loads())
            row["kinds"][rule.kind] = {
                "eligible": n_eligible,
                "covered": n_covered,
                "missing": n_eligible - n_covered,
                **people_row.as_dict(),
            }
            for field_name in ("eligible", "covered", "missing"):
                totals[rule.kind][field_name] += row["kinds"][rule.kind][field_name]
            total_loads[rule.kind].merge(people_row)
        rows.append(row)

    missing = sum(t["missing"] for t in totals.values())
    return {
        "node": {"id": node.pk, "name": node.name, "level": node.level},
        "rows_are": "village" if by_village else "grid",
        "kinds": [{"kind": r.kind, "label": r.label, "tagged": bool(r.tags)} for r in rules],
        "households": sum(count_by_row.values()),
        "missing": missing,
        "complete": missing == 0,
        "rows": rows,
        "totals": {
            kind: {**values, **total_loads[kind].as_dict()} for kind, values in totals.items()
        },
    }
