"""Contact-network services: rules, liaisons, hand-set links and the assignment run."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.audit.services import audit_record
from minqing.contacts import engine
from minqing.contacts.models import (
    AssignmentRule,
    AssignmentRun,
    ContactLink,
    Liaison,
    LiaisonCategory,
    LiaisonKind,
    MatchRule,
)
from minqing.households.models import Household, HouseholdTag
from minqing.lib.errors import PermissionDenied
from minqing.org.models import Level, Node, subtree_q

#: kind → (min, max, required, active) for a county that has not set its own rules (DOMAIN §2).
DEFAULT_RULES = {
    LiaisonKind.GROUP_LEADER: (0, 120, True, True),
    LiaisonKind.PARTY_MEMBER: (0, 40, True, True),
    LiaisonKind.REPRESENTATIVE: (5, 15, True, False),
    LiaisonKind.CADRE: (0, 2, False, False),
}
#: 病灾困难户: the households a cadre pairs with ("1+1") and 两委党员 are matched to.
DIFFICULT_TAGS = ("poverty_exited", "monitored", "dibao", "wubao", "disabled", "elderly_alone")
#: category → household tags it suits; () = households with none of the key tags (一般农户).
DEFAULT_MATCHES = {
    LiaisonCategory.ORDINARY: (),
    LiaisonCategory.MOBILE: ("migrant_worker",),
    LiaisonCategory.COMMITTEE: DIFFICULT_TAGS,
    LiaisonCategory.YOUNG: ("old_party_member", *DIFFICULT_TAGS),
}
CATEGORY_BITS = {c: i for i, c in enumerate(c for c in LiaisonCategory.values if c)}


def rules_for(county: Node) -> dict[str, AssignmentRule]:
    """The county's assignment rules by kind; the defaults are written the first time."""
    rules = {r.kind: r for r in AssignmentRule.objects.filter(county=county)}
    missing = [k for k in DEFAULT_RULES if k not in rules]
    if missing:
        with transaction.atomic():
            for kind in missing:
                low, high, required, active = DEFAULT_RULES[kind]
                rule, created = AssignmentRule.objects.get_or_create(
                    county=county,
                    kind=kind,
                    defaults={
                        "min_load": low,
                        "max_load": high,
                        "required": required,
                        "active": active,
                    },
                )
                if created and kind == LiaisonKind.CADRE:
                    rule.eligible_tags.set(HouseholdTag.objects.filter(code__in=DIFFICULT_TAGS))
                rules[kind] = rule
            if not MatchRule.objects.filter(county=county).exists():
                tags = {t.code: t for t in HouseholdTag.objects.all()}
                for category, codes in DEFAULT_MATCHES.items():
                    match = MatchRule.objects.create(
                        county=county, kind=LiaisonKind.PARTY_MEMBER, category=category
                    )
                    match.tags.set([tags[c] for c in codes if c in tags])
    return rules


def county_of(node: Node) -> Node:
    if node.level == Level.COUNTY:
        return node
    county = Node.objects.county_on_path(node.path)
    if county is None:
        raise ValidationError(_("This place is not inside a county."))
    return county


# --------------------------------------------------------------------------- the engine run


class _Matching:
    """The county's matching rules as bitmasks over household tags, per liaison kind."""

    def __init__(self, county: Node) -> None:
        self.by_kind: dict[str, list[tuple[int, set[int], int]]] = defaultdict(list)
        self.key_tags: dict[str, set[int]] = defaultdict(set)
        for rule in MatchRule.objects.filter(county=county).prefetch_related("tags"):
            tag_ids = {t.pk for t in rule.tags.all()}
            bit = CATEGORY_BITS.get(rule.category)
            if bit is None:
                continue
            self.by_kind[rule.kind].append((bit, tag_ids, rule.weight))
            self.key_tags[rule.kind] |= tag_ids

    def weights(self, kind: str) -> dict[int, int]:
        return {bit: weight for bit, _tags, weight in self.by_kind.get(kind, [])}

    def mask(self, kind: str, tags: set[int]) -> int:
        mask = 0
        for bit, wanted, _weight in self.by_kind.get(kind, []):
            if (wanted and tags & wanted) or (not wanted and not tags & self.key_tags[kind]):
                mask |= 1 << bit
        return mask


def assign(*, node: Node, by: Any = None, request: Any = None) -> AssignmentRun:
    """划片包干 — (re)assign every household under ``node`` for every active kind.

    One transaction per village, so a county-wide run never holds the database for long and a
    failure leaves the villages done so far done. Manual links stay; households of a liaison who
    left go to someone else; a village without enough people gets all it can and a shortage line
    in the run's result saying how many people it lacks.
    """
    county = county_of(node)
    rules = {k: r for k, r in rules_for(county).items() if r.active}
    matching = _Matching(county)
    eligible = {
        kind: {t.pk for t in rule.eligible_tags.all()} for kind, rule in rules.items()
    }
    started = time.perf_counter()
    run = AssignmentRun.objects.create(node=node, by=by)
    totals: dict[str, int] = defaultdict(int)
    shortages: list[dict[str, Any]] = []
    villages = Node.objects.filter(subtree_q(node.path), level=Level.VILLAGE).order_by("path")
    if node.level not in (Level.PROVINCE, Level.CITY, Level.COUNTY, Level.TOWN):
        villages = Node.objects.filter(pk=_village_of(node).pk)
    for village in villages.only("id", "name", "path"):
        with transaction.atomic():
            counts, short = _assign_village(village, rules, eligible, matching, by=by)
        for key, value in counts.items():
            totals[key] += value
        shortages.extend(short)
    run.finished_at = timezone.now()
    run.result = {
        **totals,
        "seconds": round(time.perf_counter() - started, 2),
        "shortages": shortages,
    }
    with transaction.atomic():
        run.save(update_fields=["finished_at", "result"])
        audit_record(
            action="contacts.assign",
            user=by,
            request=request,
            obj=node,
            detail={k: v for k, v in run.result.items() if k != "shortages"}
            | {"short_villages": len({s["village"] for s in shortages})},
        )
    return run


def _village_of(node: Node) -> Node:
    ids = [*node.ancestor_ids, node.pk]
    village = Node.objects.filter(pk__in=ids, level=Level.VILLAGE).first()
    if village is None:
        raise ValidationError(_("Choose a village, town or county."))
    return village


def _assign_village(
    village: Node,
    rules: dict[str, AssignmentRule],
    eligible: dict[str, set[int]],
    matching: _Matching,
    *,
    by: Any,
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    # Lock the village: two runs over the same village wait for each other (PostgreSQL; SQLite
    # writes one transaction at a time anyway).
    list(Node.objects.select_for_update().filter(pk=village.pk).values_list("pk"))
    grids = {
        pk: i
        for i, pk in enumerate(
            Node.objects.filter(subtree_q(village.path)).order_by("path").values_list("pk", flat=True)
        )
    }
    rows = list(
        Household.objects.filter(village=village)
        .order_by("id")
        .values_list("id", "node_id", "latitude", "longitude")
    )
    tags: dict[int, set[int]] = defaultdict(set)
    for household_id, tag_id in Household.tags.through.objects.filter(
        household__village=village
    ).values_list("household_id", "householdtag_id"):
        tags[household_id].add(tag_id)
    links: dict[tuple[int, str], tuple[int, int, bool]] = {}
    for link_id, household_id, kind, liaison_id, manual in ContactLink.objects.current().filter(
        household__village=village
    ).values_list("id", "household_id", "kind", "liaison_id", "manual"):
        links[(household_id, kind)] = (link_id, liaison_id, manual)
    liaisons = list(
        Liaison.objects.filter(village=village, active=True, kind__in=list(rules))
        .order_by("id")
        .values_list("id", "kind", "node_id", "latitude", "longitude", "category", "capacity")
    )
    counts: dict[str, int] = defaultdict(int)
    shortages: list[dict[str, Any]] = []
    now = timezone.now()
    to_end: list[int] = []
    to_add: list[ContactLink] = []
    for kind, rule in rules.items():
        people = [row for row in liaisons if row[1] == kind]
        index = {row[0]: i for i, row in enumerate(people)}
        wanted = eligible[kind]
        fixed = np.zeros(len(people), dtype=np.int64)
        free: list[tuple[int, int, Any, Any]] = []
        currents: list[int] = []
        for household_id, node_id, lat, lon in rows:
            link = links.get((household_id, kind))
            if wanted and not tags[household_id] & wanted:
                if link and not link[2]:
                    to_end.append(link[0])  # no longer eligible
                continue
            if link and link[2]:
                counts["manual"] += 1
                if link[1] in index:
                    fixed[index[link[1]]] += 1
                continue
            free.append((household_id, node_id, lat, lon))
            currents.append(index.get(link[1], -1) if link else -1)
        if not free:
            continue
        capacity = np.array([row[6] or rule.max_load for row in people], dtype=np.int64)
        problem = engine.Problem(
            h_ids=np.array([f[0] for f in free], dtype=np.int64),
            h_grid=np.array([grids.get(f[1], 0) for f in free], dtype=np.int64),
            h_lat=_floats(f[2] for f in free),
            h_lon=_floats(f[3] for f in free),
            h_current=np.array(currents, dtype=np.int64),
            h_match=np.array(
                [matching.mask(kind, tags[f[0]]) for f in free], dtype=np.int64
            ),
            l_ids=np.array([row[0] for row in people], dtype=np.int64),
            l_grid=np.array([grids.get(row[2], 0) for row in people], dtype=np.int64),
            l_lat=_floats(row[3] for row in people),
            l_lon=_floats(row[4] for row in people),
            l_category=np.array([CATEGORY_BITS.get(row[5], -1) for row in people], dtype=np.int64),
            l_min=np.maximum(rule.min_load - fixed, 0),
            l_max=np.maximum(capacity - fixed, 0),
            match_weight=matching.weights(kind),
        )
        solution = engine.solve(problem)
        for i, household_id in enumerate(problem.h_ids.tolist()):
            chosen = int(solution.choice[i])
            link = links.get((household_id, kind))
            new_liaison = int(problem.l_ids[chosen]) if chosen >= 0 else None
            if link and link[1] == new_liaison:
                counts["kept"] += 1
                continue
            if link:
                to_end.append(link[0])
                counts["moved" if new_liaison else "ended"] += 1
            if new_liaison is not None:
                counts["assigned"] += 1
                to_add.append(
                    ContactLink(
                        household_id=household_id,
                        liaison_id=new_liaison,
                        kind=kind,
                        started_at=now,
                        created_by=by,
                    )
                )
        if solution.unassigned:
            counts["unassigned"] += solution.unassigned
            if rule.required:
                shortages.append(
                    {
                        "village": village.pk,
                        "name": village.name,
                        "kind": kind,
                        "households": solution.unassigned,
                        "people": math.ceil(solution.unassigned / max(1, rule.max_load)),
                    }
                )
    for start in range(0, len(to_end), 500):
        ContactLink.objects.filter(pk__in=to_end[start : start + 500]).update(ended_at=now)
    ContactLink.objects.bulk_create(to_add, batch_size=1000)
    return counts, shortages


def _floats(values: Any) -> np.ndarray:
    return np.array([float(v) if v is not None else np.nan for v in values], dtype=np.float64)


# --------------------------------------------------------------------------- by hand


def liaison_add(
    *,
    by: Any,
    node: Node,
    kind: str,
    name: str = "",
    phone: str = "",
    user: Any = None,
    resident: Any = None,
    category: str = "",
    capacity: int | None = None,
    request: Any = None,
) -> Liaison:
    """A person who takes households: a resident (party member, representative), an account
    holder (group leader, cadre) or both. Name, phone and place come from them when not given."""
    from minqing.issues.services.common import clean_phone, clean_text
    from minqing.lib.fields import plain

    errors: dict[str, str] = {}
    if kind not in LiaisonKind.values:
        errors["kind"] = _("Choose what the person does.")
    if category not in LiaisonCategory.values:
        errors["category"] = _("Unknown category.")
    if node.level not in (Level.VILLAGE, Level.AREA, Level.GRID):
        errors["node"] = _("Choose the village, area or grid the person belongs to.")
    if capacity is not None and not 1 <= capacity <= 1000:
        errors["capacity"] = _("Between 1 and 1000 households.")
    name = name or (resident.name if resident else "") or (str(user) if user else "")
    phone = phone or (plain(resident.phone) if resident else "") or (
        plain(user.phone) if user else ""
    )
    for field, clean in (
        ("name", lambda: clean_text(name, "name", required=True, max_length=50)),
        ("phone", lambda: clean_phone(phone, "phone")),
    ):
        try:
            cleaned = clean()
        except ValidationError as exc:
            errors.update({k: v[0] for k, v in exc.message_dict.items()})
        else:
            name, phone = (cleaned, phone) if field == "name" else (name, cleaned)
    if errors:
        raise ValidationError(errors)
    _require_manage(by, node)
    village = _village_of(node)
    household = resident.household if resident else None
    if household is not None and household.village_id != village.pk:
        raise ValidationError({"resident": _("The resident lives in another village.")})
    with transaction.atomic():
        if Liaison.objects.filter(kind=kind, user=user).exists() if user else False:
            raise ValidationError({"user": _("This account is already such a liaison.")})
        if Liaison.objects.filter(kind=kind, resident=resident).exists() if resident else False:
            raise ValidationError({"resident": _("This resident is already such a liaison.")})
        liaison = Liaison.objects.create(
            node=node,
            village=village,
            kind=kind,
            category=category,
            name=name,
            phone=phone or None,
            user=user,
            resident=resident,
            capacity=capacity,
            latitude=household.latitude if household else None,
            longitude=household.longitude if household else None,
        )
        audit_record(
            action="contacts.liaison_add",
            user=by,
            request=request,
            obj=liaison,
            detail={"kind": kind, "node": node.pk},
        )
    return liaison


def liaison_retire(*, by: Any, liaison: Liaison, request: Any = None) -> None:
    """The person stops taking households (moved away, stepped down). Their households go to
    others at the next run; their hand-set links end now."""
    _require_manage(by, liaison.node)
    now = timezone.now()
    with transaction.atomic():
        Liaison.objects.filter(pk=liaison.pk).update(active=False)
        ContactLink.objects.current().filter(liaison=liaison, manual=True).update(ended_at=now)
        audit_record(action="contacts.liaison_retire", user=by, request=request, obj=liaison)


def _require_manage(by: Any, node: Node) -> None:
    from minqing.accounts.scope import scope_for

    scope = scope_for(by)
    if not (scope.can_edit_archives and scope.covers_path(node.path)):
        raise PermissionDenied(_("Only cadres of this place may change who looks after it."))


def link_set(
    *, by: Any, household: Household, liaison: Liaison, request: Any = None
) -> ContactLink:
    """Put a household in a liaison's care by hand ("1+1" pairing, or overriding the engine).

    The link is manual: later runs of the engine leave it alone.
    """
    _require_manage(by, household.node)
    if not liaison.active:
        raise ValidationError({"liaison": _("This person no longer takes households.")})
    if liaison.village_id != household.village_id and liaison.kind != LiaisonKind.CADRE:
        raise ValidationError({"liaison": _("Choose someone of the household's own village.")})
    now = timezone.now()
    with transaction.atomic():
        current = (
            ContactLink.objects.current()
            .select_for_update()
            .filter(household=household, kind=liaison.kind)
            .first()
        )
        if current and current.liaison_id == liaison.pk and current.manual:
            return current
        if current:
            current.ended_at = now
            current.save(update_fields=["ended_at"])
        link = ContactLink.objects.create(
            household=household,
            liaison=liaison,
            kind=liaison.kind,
            manual=True,
            started_at=now,
            created_by=by,
        )
        audit_record(
            action="contacts.link",
            user=by,
            request=request,
            obj=household,
            detail={"liaison": liaison.pk, "kind": liaison.kind},
        )
    return link


def link_release(*, by: Any, link: ContactLink, request: Any = None) -> None:
    """Hand a manual link back to the engine (it stays until the next run moves it)."""
    _require_manage(by, link.household.node)
    with transaction.atomic():
        ContactLink.objects.filter(pk=link.pk).update(manual=False)
        audit_record(
            action="contacts.release", user=by, request=request, obj=link.household,
            detail={"liaison": link.liaison_id, "kind": link.kind},
        )
