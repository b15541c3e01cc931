"""Reading the contact network: the active rules of a place and who is covered for them.

A household is *covered* for a kind when it has a current link of that kind to a liaison who is
still active; a retired liaison's households count as missing until the next assignment run
moves them (``services.liaison_retire``). A kind whose rule names tags only concerns households
carrying one of them (``AssignmentRule.eligible_tags``).

Functions here take a node the caller has already checked against the user's scope.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from minqing.contacts.defaults import DEFAULT_RULES, DIFFICULT_TAGS
from minqing.contacts.errors import ContactErrorCode
from minqing.contacts.models import AssignmentRule, ContactLink, LiaisonKind
from minqing.households.models import Household, HouseholdTag
from minqing.org.models import Level, Node, subtree_q
from minqing.org.selectors import county_of
from minqing.org.selectors import village_of as org_village_of

#: Levels whose reports and ledgers go village by village; below them, grid by grid.
ABOVE_VILLAGE = (Level.PROVINCE, Level.CITY, Level.COUNTY, Level.TOWN)
_KIND_ORDER = {kind: i for i, kind in enumerate(LiaisonKind.values)}


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


def village_of(node: Node) -> Node:
    """The village at or above ``node``; a place above the villages is refused."""
    village = org_village_of(node)
    if village is None:
        raise ValidationError(
            _("Choose a village, town or county."), code=ContactErrorCode.NOT_IN_VILLAGE
        )
    return village


def rule_limits(county: Node) -> dict[str, tuple[int, bool]]:
    """kind → (most households per liaison, in use) — read only: a page showing them must not
    write the defaults."""
    limits: dict[str, tuple[int, bool]] = {
        kind: (high, active) for kind, (_low, high, _req, active) in DEFAULT_RULES.items()
    }
    for kind, high, active in AssignmentRule.objects.filter(county=county).values_list(
        "kind", "max_load", "active"
    ):
        limits[kind] = (high, active)
    return limits


def kind_rules(node: Node) -> list[KindRule]:
    """The active rules of the node's county, in the order of ``LiaisonKind``; a kind the
    county has not set yet counts with its default (``DEFAULT_RULES``), read only: the rows
    are written by the first edit or run (``services.rules_for``).

    Raises ``ValidationError`` for a node that is not inside one county (province, city).
    """
    rows = {r.kind: r for r in AssignmentRule.objects.filter(county=county_of(node))}
    tags: dict[int, set[int]] = defaultdict(set)
    active = [r for r in rows.values() if r.active]
    if active:
        for rule_id, tag_id in AssignmentRule.eligible_tags.through.objects.filter(
            assignmentrule_id__in=[r.pk for r in active]
        ).values_list("assignmentrule_id", "householdtag_id"):
            tags[rule_id].add(tag_id)
    found = [
        KindRule(
            kind=r.kind,
            label=str(LiaisonKind(r.kind).label),
            required=r.required,
            tags=frozenset(tags[r.pk]),
        )
        for r in active
    ]
    for kind, (_low, _high, required, is_active) in DEFAULT_RULES.items():
        if kind in rows or not is_active:
            continue
        default_tags: frozenset[int] = frozenset()
        if kind == LiaisonKind.CADRE:  # as services.rules_for would write it
            default_tags = frozenset(
                HouseholdTag.objects.filter(code__in=DIFFICULT_TAGS).values_list("pk", flat=True)
            )
        found.append(
            KindRule(
                kind=kind, label=str(LiaisonKind(kind).label), required=required, tags=default_tags
            )
        )
    return sorted(found, key=lambda r: _KIND_ORDER.get(r.kind, 99))


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


def eligible_q(rule: KindRule, household_ref: Any) -> Exists:
    return Exists(
        Household.tags.through.objects.filter(
            household_id=household_ref, householdtag_id__in=sorted(rule.tags)
        )
    )


def lacks_q(rule: KindRule) -> Q:
    """Households the rule concerns that have no active liaison of its kind."""
    q = ~covered_q(rule)
    if rule.tags:
        q &= Q(eligible_q(rule, OuterRef("pk")))
    return q
