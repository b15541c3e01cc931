"""Reading the contact network for the pages that change it: a place's liaisons and their
loads, the people who could become liaisons, a household's people, and the runs of a place.

Functions here take nodes and households the caller has already checked against the user's
scope. (The ledger and the coverage report: ``selectors.ledger``, ``selectors.coverage``.)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from minqing.accounts.models import RoleAssignment, User
from minqing.contacts.defaults import ADULT, DEFAULT_RULES
from minqing.contacts.models import (
    AssignmentRule,
    AssignmentRun,
    ContactLink,
    Liaison,
    LiaisonCategory,
    LiaisonKind,
)
from minqing.contacts.permissions import can_manage
from minqing.contacts.selectors.network import rule_limits
from minqing.households.models import Household, Politics, Resident
from minqing.org.models import Level, Node, subtree_q
from minqing.org.selectors import county_of

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

KIND_ORDER = {kind: i for i, kind in enumerate(LiaisonKind.values)}
#: Roles whose holders may become liaisons of a kind, and which kind that suggests.
ROLE_KINDS = {
    "group_leader": LiaisonKind.GROUP_LEADER,
    "representative": LiaisonKind.REPRESENTATIVE,
    "party_member": LiaisonKind.PARTY_MEMBER,
    "village_cadre": LiaisonKind.CADRE,
    "grid_worker": LiaisonKind.GROUP_LEADER,
    "town_staff": LiaisonKind.CADRE,
}
#: Party members under this age are 年轻党员.
YOUNG_BELOW = 35
SEARCH_LIMIT = 20


def liaison_place_q(node: Node, prefix: str = "") -> Q:
    """Liaisons who belong to ``node``: a town's villages, a village, or a group under it."""
    if node.level in (Level.PROVINCE, Level.CITY, Level.COUNTY, Level.TOWN):
        villages = Node.objects.filter(subtree_q(node.path), level=Level.VILLAGE).values("id")
        return Q(**{f"{prefix}village_id__in": villages})
    if node.level == Level.VILLAGE:
        return Q(**{f"{prefix}village_id": node.pk})
    return subtree_q(node.path, f"{prefix}node__path")


class LoadAnnotation(TypedDict):
    """What :func:`with_load` adds to each liaison: its number of current households."""

    load: int


def with_load(qs: QuerySet[Liaison]) -> QuerySet[WithAnnotations[Liaison, LoadAnnotation]]:
    return qs.annotate(load=Count("links", filter=Q(links__ended_at__isnull=True)))


@dataclass
class KindGroup:
    """The liaisons of one kind at a place, with what the county's rule lets each take."""

    kind: str
    label: str
    max_load: int
    #: the county's rule has this kind in use (the assignment gives households such people)
    active: bool
    liaisons: list[WithAnnotations[Liaison, LoadAnnotation]] = field(default_factory=list)

    @property
    def load(self) -> int:
        return sum(p.load for p in self.liaisons)

    @property
    def capacity(self) -> int:
        return sum(p.capacity_or_rule for p in self.liaisons)


def liaisons_by_kind(
    node: Node,
) -> tuple[list[KindGroup], list[WithAnnotations[Liaison, LoadAnnotation]]]:
    """The place's active liaisons grouped by kind (every kind, in order, even without anyone)
    with their current load and capacity; and the retired ones, latest first."""
    limits = rule_limits(county_of(node))
    groups = {
        kind: KindGroup(
            kind=kind, label=str(label), max_load=limits[kind][0], active=limits[kind][1]
        )
        for kind, label in LiaisonKind.choices
    }
    people = with_load(
        Liaison.objects.filter(liaison_place_q(node)).select_related("node", "village")
    ).order_by("village__path", "node__path", "name", "id")
    retired = []
    for person in people:
        person.capacity_or_rule = person.capacity or limits[person.kind][0]
        person.over = person.load > person.capacity_or_rule
        if person.active:
            groups[person.kind].liaisons.append(person)
        else:
            retired.append(person)
    return list(groups.values()), retired


# --------------------------------------------------------------------------- candidates


def resident_candidates(village: Node, query: str) -> list[Resident]:
    """Adults of the village whose name contains ``query``, with the liaison roles they hold."""
    query = query.strip()
    if not query:
        return []
    return list(
        _adults_of(village)
        .filter(name__icontains=query)
        .select_related("household", "household__node")
        .prefetch_related(
            Prefetch("liaisons", queryset=Liaison.objects.filter(active=True), to_attr="posts")
        )
        .order_by("name", "id")[:SEARCH_LIMIT]
    )


def _adults_of(village: Node) -> QuerySet[Resident]:
    today = timezone.localdate()
    try:
        born_by = today.replace(year=today.year - ADULT)
    except ValueError:  # 29 February
        born_by = today.replace(year=today.year - ADULT, day=28)
    return Resident.objects.filter(household__village=village).filter(
        Q(birth_date__lte=born_by) | Q(birth_date__isnull=True)
    )


def resident_in(village: Node, pk: Any) -> Resident | None:
    """The adult resident ``pk`` of the village, or None."""
    try:
        return _adults_of(village).select_related("household").get(pk=int(pk))
    except (Resident.DoesNotExist, TypeError, ValueError):
        return None


def account_candidates(village: Node) -> list[RoleAssignment]:
    """Accounts holding a role in the village (or a town cadre above it) who could take
    households, one line per account and role."""
    town_ids = village.ancestor_ids
    return list(
        RoleAssignment.objects.filter(role__in=list(ROLE_KINDS), user__is_active=True)
        .filter(
            subtree_q(village.path, "node__path")
            | Q(node_id__in=town_ids, node__level=Level.TOWN, role="town_staff")
        )
        .select_related("user", "node")
        .order_by("node__path", "user__full_name", "user__username", "role")
    )


def account_in(village: Node, pk: Any) -> User | None:
    """The account ``pk`` if it is one of :func:`account_candidates`."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    for assignment in account_candidates(village):
        if assignment.user_id == pk:
            return assignment.user
    return None


@dataclass
class Suggestion:
    """The kind and category a person's record points to, and why (for the form's note)."""

    kind: str
    category: str
    why: str

    @property
    def category_label(self) -> str:
        return str(LiaisonCategory(self.category).label) if self.category else ""


def suggest_for_resident(resident: Resident, today: dt.date | None = None) -> Suggestion:
    """What a resident would likely be: a party member is 党员联户, and the matching rules'
    categories follow from the record (works away → 流动党员, under 35 → 年轻党员)."""
    from django.utils.translation import gettext as _

    if resident.politics != Politics.PARTY:
        return Suggestion(LiaisonKind.REPRESENTATIVE, "", "")
    age = resident.age_on(today or timezone.localdate())
    if resident.works_away:
        return Suggestion(
            LiaisonKind.PARTY_MEMBER,
            LiaisonCategory.MOBILE,
            _("Party member who works away from home."),
        )
    if age is not None and age < YOUNG_BELOW:
        return Suggestion(
            LiaisonKind.PARTY_MEMBER,
            LiaisonCategory.YOUNG,
            _("Party member aged %(age)d.") % {"age": age},
        )
    return Suggestion(LiaisonKind.PARTY_MEMBER, LiaisonCategory.ORDINARY, "")


def suggest_for_account(user: User, village: Node) -> str:
    for assignment in account_candidates(village):
        if assignment.user_id == user.pk:
            return ROLE_KINDS[assignment.role]
    return LiaisonKind.GROUP_LEADER


# --------------------------------------------------------------------------- household section


@dataclass
class HouseholdContacts:
    """A household's people of every active kind, and whom a manager may hand-set."""

    links: list[ContactLink]
    #: active kinds (value, label) that have nobody for the household yet
    missing: list[tuple[str, str]]
    can_manage: bool
    #: (kind label, [liaisons]) the household can be put with by hand
    choices: list[tuple[str, list[LiaisonChoice]]] = field(default_factory=list)


@dataclass(frozen=True)
class LiaisonChoice:
    """A liaison the household can be put with, and how many households they have now."""

    pk: int
    name: str
    load: int
    capacity: int | None


def household_contacts(user: User, household: Household) -> HouseholdContacts:
    """For the household page, in a fixed number of queries (five for a manager)."""
    links = sorted(
        ContactLink.objects.current().filter(household=household).select_related("liaison"),
        key=lambda link: KIND_ORDER.get(link.kind, 99),
    )
    linked = {link.kind for link in links}
    tags = {t.pk for t in household.tags.all()}
    missing = [
        (kind, str(LiaisonKind(kind).label))
        for kind in _kinds_concerning(county_of(household.village), tags)
        if kind not in linked
    ]
    manage = can_manage(user, household.node)
    choices: list[tuple[str, list[LiaisonChoice]]] = []
    if manage:
        # The household's own village; for "1+1" pairing, cadres anywhere in its town. Two
        # indexed reads and one count over their current links: an OR across the two, with the
        # count joined in, would read every liaison of the county.
        town = Node.objects.filter(pk__in=household.village.ancestor_ids, level=Level.TOWN).first()
        visible = Liaison.objects.visible_to(user).filter(active=True)
        people = list(visible.filter(village_id=household.village_id))
        if town is not None:
            people += list(
                visible.filter(kind=LiaisonKind.CADRE)
                .filter(subtree_q(town.path, "village__path"))
                .exclude(village_id=household.village_id)
            )
        loads = dict(
            ContactLink.objects.current()
            .filter(liaison_id__in=[p.pk for p in people])
            .order_by()
            .values("liaison_id")
            .annotate(n=Count("id"))
            .values_list("liaison_id", "n")
        )
        by_kind: dict[str, list[LiaisonChoice]] = {k: [] for k in LiaisonKind.values}
        for person in sorted(people, key=lambda p: (p.name, p.pk)):
            by_kind[person.kind].append(
                LiaisonChoice(person.pk, person.name, loads.get(person.pk, 0), person.capacity)
            )
        choices = [(str(label), by_kind[k]) for k, label in LiaisonKind.choices if by_kind[k]]
    return HouseholdContacts(links=links, missing=missing, can_manage=manage, choices=choices)


def _kinds_concerning(county: Node, tags: set[int]) -> list[str]:
    """The active kinds whose rule concerns a household with ``tags``, in kind order (the
    defaults when the county has not set its rules yet)."""
    rules = list(AssignmentRule.objects.filter(county=county).prefetch_related("eligible_tags"))
    if not rules:
        return [kind for kind, (*_loads, active) in DEFAULT_RULES.items() if active]
    kinds = []
    for rule in sorted(rules, key=lambda r: KIND_ORDER.get(r.kind, 99)):
        wanted = {t.pk for t in rule.eligible_tags.all()}
        if rule.active and (not wanted or wanted & tags):
            kinds.append(rule.kind)
    return kinds


# --------------------------------------------------------------------------- runs


def runs_of(node: Node, limit: int = 10) -> list[AssignmentRun]:
    return list(
        AssignmentRun.objects.filter(node=node)
        .select_related("by")
        .order_by("-started_at", "-id")[:limit]
    )
