"""Bulk import of household archives (台账导入), the one state change behind ledger import.

The per-record services in ``services/archive.py`` cost ~10 queries and one audit row per
change, which turns a town's ledger (tens of thousands of rows) into minutes of work and tens of
thousands of audit rows. ``households_import`` writes the same ArchiveChange rows (action
"import"), keeps member and node counts right, and writes ONE audit row for the whole import, all
in one transaction. Sensitive values never enter the history or the audit row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.models import User
from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_record
from minqing.households.errors import HouseholdErrorCode
from minqing.households.models import (
    HOUSEHOLD_FIELDS,
    RESIDENT_FIELDS,
    SENSITIVE_FIELDS,
    ArchiveChange,
    Household,
    HouseholdTag,
    Resident,
)
from minqing.households.services.archive import apply_changes, require_edit
from minqing.lib.context import AuditContext
from minqing.lib.fields import BlindIndexField
from minqing.org.models import Level, Node
from minqing.org.services import adjust_counts


@dataclass
class ResidentImport:
    """One member row of a ledger: update resident ``pk``, or create one when it is None."""

    data: dict[str, Any]
    pk: int | None = None


@dataclass
class HouseholdImport:
    """One household of a ledger; ``data`` holds only the fields the ledger sets."""

    village: Node
    data: dict[str, Any]
    node: Node | None = None  # None: a new household sits on the village, an old one stays put
    tags: list[HouseholdTag] | None = None  # None: keep the recorded tags
    pk: int | None = None
    residents: list[ResidentImport] = dc_field(default_factory=list)


@dataclass
class ImportCounts:
    """What an import created, updated and left alone."""

    households_created: int = 0
    households_updated: int = 0
    households_unchanged: int = 0
    residents_created: int = 0
    residents_updated: int = 0
    residents_unchanged: int = 0

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {
            "households": {
                "create": self.households_created,
                "update": self.households_updated,
                "unchanged": self.households_unchanged,
            },
            "residents": {
                "create": self.residents_created,
                "update": self.residents_updated,
                "unchanged": self.residents_unchanged,
            },
        }


def households_import(
    *,
    by: User,
    target: Node,
    items: list[HouseholdImport],
    dry_run: bool = False,
    context: AuditContext | None = None,
    detail: dict[str, Any] | None = None,
) -> ImportCounts:
    """Create or update many households and their members in one transaction.

    ``dry_run`` only counts what would change (for the check page) and writes nothing. An
    unchanged record is not touched: no ArchiveChange row, no version bump.
    """
    require_edit(by, target)
    for item in items:
        node = item.node or item.village
        if (
            item.village.level != Level.VILLAGE
            or not item.village.path.startswith(target.path)
            or not node.path.startswith(item.village.path)
        ):
            raise ValidationError(
                {
                    "node": ValidationError(
                        _("%(n)s is not a place under %(t)s.") % {"n": node.name, "t": target.name},
                        code=HouseholdErrorCode.IMPORT_OUTSIDE_TARGET,
                    )
                }
            )
    if dry_run:
        return _ImportRun(by, items, lock=False).counts
    with transaction.atomic():
        run = _ImportRun(by, items, lock=True)
        run.write()
        audit_record(
            action=AuditAction.LEDGER_IMPORT,
            user=by,
            context=context,
            obj=target,
            detail={**(detail or {}), **run.counts.as_dict()},
        )
    return run.counts


def _chunks(values: list[Any], size: int = 500) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _update_fields(model: type[models.Model], changed: set[str]) -> list[str]:
    """The changed columns plus the blind indexes kept from them."""
    fields = sorted(changed & {f.name for f in model._meta.concrete_fields})
    fields += [
        f.name
        for f in model._meta.concrete_fields
        if isinstance(f, BlindIndexField) and f.source in changed
    ]
    return fields


def _refresh_blind_indexes(objs: list[Any], fields: list[str]) -> None:
    """``bulk_update`` skips ``pre_save``, which is what keeps the blind indexes in step."""
    if not objs:
        return
    indexes = [
        f
        for f in objs[0]._meta.concrete_fields
        if isinstance(f, BlindIndexField) and f.name in fields
    ]
    for obj in objs:
        for f in indexes:
            f.pre_save(obj, False)


class _ImportRun:
    """Stage every change of an import in memory (counting them), then write them in bulk."""

    def __init__(self, by: User, items: list[HouseholdImport], *, lock: bool) -> None:
        self.by = by
        self.now = timezone.now()
        self.counts = ImportCounts()
        self.new_households: list[tuple[Household, HouseholdImport, list[Resident]]] = []
        self.changed_households: list[Household] = []
        self.new_residents: list[Resident] = []
        self.changed_residents: list[Resident] = []
        self.tag_sets: dict[int, list[HouseholdTag]] = {}
        self.changes: list[ArchiveChange] = []
        self.deltas: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        # Decrypting costs: leave out the sensitive columns no item sets (the ledger never
        # carries health or income notes).
        hh_keys = {k for i in items for k in i.data}
        res_keys = {k for i in items for r in i.residents for k in r.data}
        households = Household.objects.defer(*(SENSITIVE_FIELDS & set(HOUSEHOLD_FIELDS)) - hh_keys)
        residents = Resident.objects.defer(*(SENSITIVE_FIELDS & set(RESIDENT_FIELDS)) - res_keys)
        self.household_fields: set[str] = set()
        self.resident_fields: set[str] = set()
        if lock:
            households, residents = households.select_for_update(), residents.select_for_update()
        hh_pks = [i.pk for i in items if i.pk is not None]
        self.households = households.in_bulk(hh_pks)
        self.residents = residents.in_bulk(
            [r.pk for i in items for r in i.residents if r.pk is not None]
        )
        self.nodes = Node.objects.in_bulk({h.node_id for h in self.households.values()})
        self.tags = {t.pk: t for t in HouseholdTag.objects.all()}
        self.tag_ids: dict[int, set[int]] = defaultdict(set)
        through = Household.tags.through
        for chunk in _chunks(hh_pks):
            for hh_id, tag_id in through.objects.filter(household_id__in=chunk).values_list(
                "household_id", "householdtag_id"
            ):
                self.tag_ids[hh_id].add(tag_id)
        for item in items:
            if item.pk is None:
                self._stage_new(item)
            else:
                self._stage_existing(item, self.households[item.pk])

    def _delta(self, node: Node, households: int = 0, residents: int = 0) -> None:
        for node_id in (*node.ancestor_ids, node.pk):
            self.deltas[node_id][0] += households
            self.deltas[node_id][1] += residents

    def _resident_change(
        self, household: Household, resident: Resident, diff: list[list[str]]
    ) -> ArchiveChange:
        return ArchiveChange(
            household=household,
            actor=self.by,
            at=self.now,
            action=ArchiveChange.Action.IMPORT,
            resident_name=resident.name,
            concerns_minor=resident.is_minor,
            changes=diff,
        )

    def _stage_new(self, item: HouseholdImport) -> None:
        node = item.node or item.village
        household = Household(
            node=node,
            village=item.village,
            created_at=self.now,
            updated_at=self.now,
            member_count=len(item.residents),
        )
        apply_changes(household, HOUSEHOLD_FIELDS, item.data)
        members = []
        for row in item.residents:
            resident = Resident(created_at=self.now, updated_at=self.now)
            apply_changes(resident, RESIDENT_FIELDS, row.data)
            members.append(resident)
        self.new_households.append((household, item, members))
        self.counts.households_created += 1
        self.counts.residents_created += len(members)
        self._delta(node, households=1, residents=len(members))

    def _stage_existing(self, item: HouseholdImport, household: Household) -> None:
        diff = apply_changes(household, HOUSEHOLD_FIELDS, item.data)
        self.household_fields.update(d[0] for d in diff)
        if item.tags is not None:
            old, new = self.tag_ids[household.pk], {t.pk for t in item.tags}
            if old != new:
                self.tag_sets[household.pk] = item.tags
                diff.append(
                    [
                        "tags",
                        "、".join(self.tags[t].name for t in sorted(old)),
                        "、".join(t.name for t in item.tags),
                    ]
                )
        old_node = self.nodes[household.node_id]
        if item.node is not None and item.node.pk != old_node.pk:
            diff.append(["node", old_node.name, item.node.name])
            self._delta(old_node, households=-1, residents=-household.member_count)
            self._delta(item.node, households=1, residents=household.member_count)
            household.node = item.node
            self.household_fields.add("node")
        node = item.node or old_node
        changes = []
        if diff:
            changes.append(
                ArchiveChange(
                    household=household,
                    actor=self.by,
                    at=self.now,
                    action=ArchiveChange.Action.IMPORT,
                    changes=diff,
                )
            )
        for row in item.residents:
            if row.pk is None:
                resident = Resident(household=household, created_at=self.now, updated_at=self.now)
                apply_changes(resident, RESIDENT_FIELDS, row.data)
                self.new_residents.append(resident)
                household.member_count += 1
                self._delta(node, residents=1)
                self.counts.residents_created += 1
                changes.append(self._resident_change(household, resident, []))
                continue
            resident = self.residents[row.pk]
            if resident.household_id != household.pk:
                raise ValidationError(
                    {
                        "id_number": ValidationError(
                            _("Import cannot move a resident to another household."),
                            code=HouseholdErrorCode.IMPORT_MOVES_RESIDENT,
                        )
                    }
                )
            rdiff = apply_changes(resident, RESIDENT_FIELDS, row.data)
            self.resident_fields.update(d[0] for d in rdiff)
            if not rdiff:
                self.counts.residents_unchanged += 1
                continue
            resident.updated_at = self.now
            self.changed_residents.append(resident)
            self.counts.residents_updated += 1
            changes.append(self._resident_change(household, resident, rdiff))
        if diff:
            self.counts.households_updated += 1
        else:
            self.counts.households_unchanged += 1
        if changes:
            household.version += 1
            household.updated_at = self.now
            self.changed_households.append(household)
            self.changes.extend(changes)

    def write(self) -> None:
        through = Household.tags.through
        created = [h for h, _item, _members in self.new_households]
        Household.objects.bulk_create(created, batch_size=500)
        links = []
        for household, item, members in self.new_households:
            links += [
                through(household_id=household.pk, householdtag_id=t.pk) for t in item.tags or []
            ]
            self.changes.append(
                ArchiveChange(
                    household=household,
                    actor=self.by,
                    at=self.now,
                    action=ArchiveChange.Action.IMPORT,
                    changes=[],
                )
            )
            for resident in members:
                resident.household = household
                self.new_residents.append(resident)
                self.changes.append(self._resident_change(household, resident, []))
        for chunk in _chunks(list(self.tag_sets)):
            through.objects.filter(household_id__in=chunk).delete()
        links += [
            through(household_id=pk, householdtag_id=t.pk)
            for pk, tags in self.tag_sets.items()
            for t in tags
        ]
        through.objects.bulk_create(links, batch_size=500)
        Resident.objects.bulk_create(self.new_residents, batch_size=500)
        fields = _update_fields(Household, self.household_fields)
        _refresh_blind_indexes(self.changed_households, fields)
        Household.objects.bulk_update(
            self.changed_households,
            [*fields, "version", "updated_at", "member_count"],
            batch_size=200,
        )
        fields = _update_fields(Resident, self.resident_fields)
        if self.changed_residents:
            _refresh_blind_indexes(self.changed_residents, fields)
            Resident.objects.bulk_update(
                self.changed_residents, [*fields, "updated_at"], batch_size=200
            )
        ArchiveChange.objects.bulk_create(self.changes, batch_size=500)
        by_delta: dict[tuple[int, int], list[int]] = defaultdict(list)
        for node_id, (households, residents) in self.deltas.items():
            by_delta[(households, residents)].append(node_id)
        for (households, residents), node_ids in by_delta.items():
            for chunk in _chunks(node_ids):
                adjust_counts(chunk, households=households, residents=residents)
