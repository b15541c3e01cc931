"""State changes of the household archives, one record at a time: one function per change, used
by pages, API and CLI.

Every change writes an ``ArchiveChange`` row (shown on the page) and an audit row (SECURITY.md
13) in the same transaction; sensitive values never enter either.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minqing.accounts.models import User
from minqing.accounts.permissions import Action, allowed, require
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
    VillageArchive,
    history_text,
)
from minqing.lib.context import AuditContext
from minqing.lib.crypto import blind_index
from minqing.lib.errors import StaleEdit
from minqing.lib.fields import plain
from minqing.org.models import Level, Node
from minqing.org.selectors import village_of
from minqing.org.services import adjust_counts

CHANGED = "******"

MISSING_VERSION = gettext_lazy(
    "This form was sent without the version of the record it was based on, so nothing was "
    "saved. Check your input below against the record as it is now, then save again."
)


def require_version(base_version: int | None) -> int:
    """Every edit names the version it was based on (docs/SECURITY-BAR.md §18): an edit without one
    could silently overwrite someone else's change, so it is refused and nothing is written."""
    if base_version is None:
        raise ValidationError(MISSING_VERSION, code=HouseholdErrorCode.VERSION_MISSING)
    return base_version


def apply_changes(obj: Any, fields: tuple[str, ...], data: dict[str, Any]) -> list[list[str]]:
    """Set changed fields on ``obj``; return [[field, old, new], …] with sensitive values hidden."""
    diff: list[list[str]] = []
    for field in fields:
        if field not in data:
            continue
        new = data[field]
        old = getattr(obj, field)
        if field in SENSITIVE_FIELDS:
            if plain(old) == plain(new):
                continue
            diff.append([field, CHANGED if old else "", CHANGED if new else ""])
            setattr(obj, field, new or None)
            continue
        if old == new:
            continue
        diff.append([field, history_text(old), history_text(new)])
        setattr(obj, field, new)
    return diff


def require_edit(by: User, node: Node, resident: Resident | None = None) -> None:
    """Out of scope: not found; in scope without the archive-edit right *there*: 403. A
    minor's record also needs the minors permission there."""
    if not allowed(by, Action.VIEW, node):
        raise Household.DoesNotExist
    require(by, Action.EDIT_ARCHIVE, node)
    if resident is not None and resident.is_minor:
        require(by, Action.SEE_MINORS, node)


def _tags_diff(household: Household, tags: list[HouseholdTag] | None) -> list[list[str]]:
    if tags is None:
        return []
    old = {t.pk: t for t in household.tags.all()}
    new = {t.pk: t for t in tags}
    if old.keys() == new.keys():
        return []
    household.tags.set(tags)
    return [
        ["tags", "、".join(t.name for t in old.values()), "、".join(t.name for t in new.values())]
    ]


def household_create(
    *,
    by: User,
    node: Node,
    data: dict[str, Any],
    tags: list[HouseholdTag] | None = None,
    context: AuditContext | None = None,
    action: str = ArchiveChange.Action.CREATE,
) -> Household:
    """Register a household under a village or one of its groups/grids."""
    require_edit(by, node)
    village = village_of(node)
    if village is None:
        raise ValidationError(
            {
                "node": ValidationError(
                    _("A household must belong to a village or community."),
                    code=HouseholdErrorCode.NOT_IN_VILLAGE,
                )
            }
        )
    if Household.objects.filter(village=village, number=data["number"]).exists():
        raise _number_taken(data["number"], village)
    with transaction.atomic():
        household = Household(node=node, village=village)
        apply_changes(household, HOUSEHOLD_FIELDS, data)
        household.save()
        if tags:
            household.tags.set(tags)
        ArchiveChange.objects.create(household=household, actor=by, action=action, changes=[])
        adjust_counts([*node.ancestor_ids, node.pk], households=1)
        audit_record(action=AuditAction.HOUSEHOLD_CREATE, user=by, context=context, obj=household)
    return household


def household_update(
    *,
    by: User,
    household: Household,
    data: dict[str, Any],
    base_version: int | None,
    tags: list[HouseholdTag] | None = None,
    node: Node | None = None,
    context: AuditContext | None = None,
    action: str = ArchiveChange.Action.UPDATE,
) -> Household:
    """Change a household; ``base_version`` is the version the editor saw (stale → StaleEdit,
    missing → ValidationError ``version_missing``)."""
    require_version(base_version)
    require_edit(by, household.node)
    with transaction.atomic():
        locked = Household.objects.select_for_update().get(pk=household.pk)
        if locked.version != base_version:
            raise StaleEdit
        if (
            "number" in data
            and data["number"] != locked.number
            and Household.objects.filter(village=locked.village, number=data["number"]).exists()
        ):
            raise _number_taken(data["number"], locked.village)
        diff = apply_changes(locked, HOUSEHOLD_FIELDS, data)
        diff += _tags_diff(locked, tags)
        if node is not None and node.pk != locked.node_id:
            if village_of(node) != locked.village:
                raise ValidationError(
                    {
                        "node": ValidationError(
                            _("Move the household within its own village."),
                            code=HouseholdErrorCode.MOVE_OUT_OF_VILLAGE,
                        )
                    }
                )
            require_edit(by, node)
            old_node = locked.node
            diff.append(["node", old_node.name, node.name])
            adjust_counts(
                [*old_node.ancestor_ids, old_node.pk], households=-1, residents=-locked.member_count
            )
            adjust_counts(
                [*node.ancestor_ids, node.pk], households=1, residents=locked.member_count
            )
            locked.node = node
        if not diff:
            return locked
        locked.version += 1
        locked.updated_at = timezone.now()
        locked.save()
        ArchiveChange.objects.create(household=locked, actor=by, action=action, changes=diff)
        audit_record(
            action=AuditAction.HOUSEHOLD_UPDATE,
            user=by,
            context=context,
            obj=locked,
            detail={"fields": [d[0] for d in diff]},
        )
    return locked


def resident_add(
    *,
    by: User,
    household: Household,
    data: dict[str, Any],
    context: AuditContext | None = None,
    action: str = ArchiveChange.Action.CREATE,
) -> Resident:
    """Add a member to a household; an ID number may belong to one resident only."""
    require_edit(by, household.node)
    _check_id_unique(data.get("id_number", ""), exclude_pk=None, by=by, context=context)
    with transaction.atomic():
        resident = Resident(household=household)
        apply_changes(resident, RESIDENT_FIELDS, data)
        resident.save()
        Household.objects.filter(pk=household.pk).update(member_count=_member_count(household))
        ArchiveChange.objects.create(
            household=household,
            actor=by,
            action=action,
            resident_name=resident.name,
            concerns_minor=resident.is_minor,
            changes=[],
        )
        node = household.node
        adjust_counts([*node.ancestor_ids, node.pk], residents=1)
        audit_record(action=AuditAction.RESIDENT_CREATE, user=by, context=context, obj=resident)
    return resident


def resident_update(
    *,
    by: User,
    resident: Resident,
    data: dict[str, Any],
    base_version: int | None,
    context: AuditContext | None = None,
    action: str = ArchiveChange.Action.UPDATE,
) -> Resident:
    """Change a member; ``base_version`` is the member's version the editor saw (stale →
    StaleEdit, missing → ValidationError ``version_missing``)."""
    require_version(base_version)
    require_edit(by, resident.household.node, resident)
    if "id_number" in data:
        _check_id_unique(data["id_number"], exclude_pk=resident.pk, by=by, context=context)
    with transaction.atomic():
        locked = Resident.objects.select_for_update().get(pk=resident.pk)
        if locked.version != base_version:
            raise StaleEdit
        diff = apply_changes(locked, RESIDENT_FIELDS, data)
        if not diff:
            return locked
        locked.version += 1
        locked.updated_at = timezone.now()
        locked.save()
        # Incremented in the database: a version read here could be stale by the time the
        # UPDATE runs (the household row is not locked), and two member edits would then
        # leave the household at the same version — a stale household edit would pass.
        Household.objects.filter(pk=locked.household_id).update(
            version=F("version") + 1, updated_at=locked.updated_at
        )
        ArchiveChange.objects.create(
            household_id=locked.household_id,
            actor=by,
            action=action,
            resident_name=locked.name,
            concerns_minor=locked.is_minor,
            changes=diff,
        )
        audit_record(
            action=AuditAction.RESIDENT_UPDATE,
            user=by,
            context=context,
            obj=locked,
            detail={"fields": [d[0] for d in diff]},
        )
    return locked


def resident_remove(
    *, by: User, resident: Resident, reason: str, context: AuditContext | None = None
) -> None:
    """Remove a member (moved away, deceased…); the reason stays in the history."""
    require_edit(by, resident.household.node, resident)
    if not reason.strip():
        raise ValidationError(
            {
                "reason": ValidationError(
                    _("Say why the member is removed."), code=HouseholdErrorCode.REASON_REQUIRED
                )
            }
        )
    household = resident.household
    with transaction.atomic():
        name = resident.name
        audit_record(
            action=AuditAction.RESIDENT_DELETE,
            user=by,
            context=context,
            obj=resident,
            detail={"reason": reason},
        )
        resident.delete()
        Household.objects.filter(pk=household.pk).update(member_count=_member_count(household))
        ArchiveChange.objects.create(
            household=household,
            actor=by,
            action=ArchiveChange.Action.DELETE,
            resident_name=name,
            concerns_minor=resident.is_minor,
            changes=[["reason", "", reason.strip()]],
        )
        adjust_counts([*household.node.ancestor_ids, household.node_id], residents=-1)


def village_archive_update(
    *,
    by: User,
    village: Node,
    data: dict[str, Any],
    base_version: int | None,
    context: AuditContext | None = None,
) -> VillageArchive:
    """Edit the 村情档案 of a village; ``base_version`` 0 stands for "no archive yet"."""
    require_version(base_version)
    if village.level != Level.VILLAGE:
        raise ValidationError(
            {
                "village": ValidationError(
                    _("Only a village or community has a village archive."),
                    code=HouseholdErrorCode.NOT_A_VILLAGE,
                )
            }
        )
    require_edit(by, village)
    fields = (
        "committee",
        "collective_economy",
        "party_building",
        "stability",
        "year_plan",
        "area_km2",
        "office_phone",
    )
    with transaction.atomic():
        archive, created = VillageArchive.objects.select_for_update().get_or_create(village=village)
        if created:
            archive.version = 0
        if archive.version != base_version:
            raise StaleEdit
        diff = apply_changes(archive, fields, data)
        if not diff:
            return archive
        archive.version += 1
        archive.updated_at = timezone.now()
        archive.save()
        ArchiveChange.objects.create(
            village=village, actor=by, action=ArchiveChange.Action.UPDATE, changes=diff
        )
        audit_record(
            action=AuditAction.VILLAGE_ARCHIVE_UPDATE,
            user=by,
            context=context,
            obj=archive,
            detail={"fields": [d[0] for d in diff]},
        )
    return archive


def reveal(
    *, by: User, obj: Household | Resident, field: str, context: AuditContext | None = None
) -> str:
    """Show one personal-data value in full: checks the permission and writes one audit row."""
    household = obj if isinstance(obj, Household) else obj.household
    if not allowed(by, Action.VIEW, household):
        raise type(obj).DoesNotExist
    if field not in SENSITIVE_FIELDS or not hasattr(obj, field):
        raise ValidationError(
            {
                "field": ValidationError(
                    _("Nothing to reveal in %(f)s.") % {"f": field},
                    code=HouseholdErrorCode.NOTHING_TO_REVEAL,
                )
            }
        )
    require(by, Action.REVEAL, household)
    if isinstance(obj, Resident) and obj.is_minor:
        require(by, Action.SEE_MINORS, household)
    value = getattr(obj, field)
    with transaction.atomic():
        audit_record(
            action=AuditAction.PERSONAL_DATA_REVEAL,
            user=by,
            context=context,
            obj=obj,
            detail={"field": field},
        )
    return plain(value)


def _number_taken(number: str, village: Node) -> ValidationError:
    """The refusal of a household number the village already has, on the number field."""
    message = _("Household number %(n)s already exists in %(v)s.") % {
        "n": number,
        "v": village.name,
    }
    return ValidationError(
        {"number": ValidationError(message, code=HouseholdErrorCode.NUMBER_TAKEN)}
    )


def _member_count(household: Household) -> int:
    return Resident.objects.filter(household=household).count()


def _check_id_unique(
    id_number: str,
    exclude_pk: int | None,
    by: User | None = None,
    context: AuditContext | None = None,
) -> None:
    """An ID number belongs to one resident. Where that resident lies within the editor's
    reach the message names the household; elsewhere it says no more than that the number
    cannot be registered here, and the attempt is audited (a cadre must not learn from the
    message that someone is registered in another village is an existence oracle)."""
    if not id_number:
        return
    qs = Resident.objects.filter(id_number_hash=blind_index(id_number, "id_number"))
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    holder = qs.select_related("household", "household__village", "household__node").first()
    if holder is None:
        return
    if by is not None and allowed(by, Action.VIEW, holder.household):
        raise ValidationError(
            {
                "id_number": ValidationError(
                    _(
                        "This ID number is already registered to a member of household "
                        "%(number)s in %(village)s."
                    )
                    % {"number": holder.household.number, "village": holder.household.village.name},
                    code=HouseholdErrorCode.ID_NUMBER_TAKEN,
                )
            }
        )
    with transaction.atomic():
        audit_record(
            action=AuditAction.RESIDENT_ID_REFUSED,
            user=by,
            context=context,
            success=False,
            detail={"reason": "registered_elsewhere"},
        )
    raise ValidationError(
        {
            "id_number": ValidationError(
                ID_NOT_REGISTRABLE, code=HouseholdErrorCode.ID_NUMBER_NOT_REGISTRABLE
            )
        }
    )


ID_NOT_REGISTRABLE = gettext_lazy(
    "This ID number cannot be registered here. Check it against the identity card; if it is "
    "right, ask the county office to look into it."
)
