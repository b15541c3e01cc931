"""Stale edits: what someone else changed since the editor opened the page (a 409)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from minqing.households.models import (
    HOUSEHOLD_FIELDS,
    RESIDENT_FIELDS,
    SENSITIVE_FIELDS,
    ArchiveChange,
    Household,
    Resident,
    history_text,
)
from minqing.lib.masking import mask_birth_date, mask_phone, mask_text


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
    if field_name == "tags":
        return "、".join(sorted(t.name for t in value or ()))
    return history_text(value)


def stale_conflicts(
    household: Household, base_version: int, yours: dict[str, Any], labels: dict[str, str]
) -> list[Conflict]:
    """What changed since the editor's version, field by field, beside what they typed.

    ``yours`` is the form's cleaned data; a blank confidential field keeps the record, so it
    never conflicts. Fields the other person changed come from the history; when the history
    cannot say (older rows), every field that differs from the record is listed.
    """
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
