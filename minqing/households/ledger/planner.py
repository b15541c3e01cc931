"""Checking a ledger against the field rules and the archive, and planning the import.

Every bad row is reported with its row number, column header and reason: field rules come from
``minqing.households.validation`` (the same as forms and API), plus what only a whole file shows —
an ID number twice, a household whose rows disagree or that has no 户主, an ID number that already
belongs to someone in another household. The plan says, per household, which record to update or
create; it never moves a resident between households and never deletes anyone.

Blank cells keep what the archive holds (a ledger that leaves 职业 empty does not wipe it), and a
masked value (``3201**********1234`` from a masked export) means "unchanged" when it matches the
record, so a masked export re-imports cleanly.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from minqing.households.ledger.columns import (
    COLUMN_BY_KEY,
    HOUSEHOLD_KEYS,
    NO_WORDS,
    RESIDENT_KEYS,
    YES_WORDS,
    split_tags,
)
from minqing.households.ledger.reader import LedgerRow, LedgerTable, RowError
from minqing.households.models import Household, HouseholdTag, Relation, Resident
from minqing.households.services.bulk import HouseholdImport, ResidentImport
from minqing.households.services.validation import RELATION_WORDS, clean_household, clean_resident
from minqing.lib.crypto import Digest, blind_index
from minqing.lib.fields import plain
from minqing.lib.masking import birth_mask_matches, id_mask_matches, mask_phone
from minqing.org.models import Level, Node

#: Ledger household columns that ``clean_household`` checks, by its field names.
_HOUSEHOLD_FIELD_KEY = {
    "number": "number",
    "head_name": "head_name",
    "address": "address",
    "phone": "household_phone",
    "income_source": "income_source",
}
_RESIDENT_FIELDS = (
    "name",
    "relation",
    "sex",
    "id_number",
    "birth_date",
    "phone",
    "politics",
    "education",
    "occupation",
    "works_away",
    "health",
    "notes",
)
_CHUNK = 500


@dataclass
class Plan:
    """What an import of this ledger would do, and every problem found in it."""

    items: list[HouseholdImport]
    errors: list[RowError]
    rows: int
    households: int
    bad_rows: int
    skipped_households: int
    skipped_rows: int
    #: The ledger rows of each item, in the same order: an import writes them in batches of
    #: whole households and checks each batch again against the archive as it is then.
    item_rows: list[list[LedgerRow]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "households": self.households,
            "bad_rows": self.bad_rows,
            "skipped_households": self.skipped_households,
            "skipped_rows": self.skipped_rows,
            "valid_households": len(self.items),
            "valid_rows": self.rows - self.skipped_rows,
        }


@dataclass
class _Member:
    row: LedgerRow
    data: dict[str, Any] | None  # cleaned fields, None when the row has field errors
    provided: set[str]
    masked_id: str = ""
    masked_phone: str = ""
    masked_birth: str = ""
    pk: int | None = None


@dataclass
class _Group:
    """The rows of one household (same village and 户编号)."""

    village: Node | None
    number: str
    rows: list[LedgerRow]
    members: list[_Member] = field(default_factory=list)
    merged: dict[str, str] = field(default_factory=dict)
    source: dict[str, int] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    node: Node | None = None
    tags: list[HouseholdTag] | None = None
    masked_phone: str = ""
    existing: Household | None = None

    @property
    def resolvable(self) -> bool:
        return self.village is not None and bool(self.number)

    @property
    def first_row(self) -> int:
        return self.rows[0].number


def _chunks(values: list[Any]) -> list[list[Any]]:
    return [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)]


def _relation_code(text: str) -> str | None:
    if not text:
        return Relation.OTHER
    if text in RELATION_WORDS:
        return str(RELATION_WORDS[text])
    return text if text in Relation.values else None


def _same(key: str, a: str, b: str) -> bool:
    if key == "tags":
        return set(split_tags(a)) == set(split_tags(b))
    if key == "household_phone":
        return a.replace(" ", "").replace("-", "") == b.replace(" ", "").replace("-", "")
    return a == b


def plan_ledger(table: LedgerTable, *, target: Node, today: dt.date | None = None) -> Plan:
    """Check every row of ``table`` for an import into ``target`` and plan the changes."""
    return _Planner(table, target, today).run()


class _Planner:
    def __init__(self, table: LedgerTable, target: Node, today: dt.date | None) -> None:
        self.table = table
        self.target = target
        self.today = today
        self.errors: list[RowError] = list(table.errors)
        self.bad_rows: set[int] = set()
        self.tags = {t.name: t for t in HouseholdTag.objects.all()}
        self.tags.update({t.code: t for t in self.tags.values()})
        if target.level == Level.VILLAGE:
            villages = [target]
        else:
            villages = list(Node.objects.subtree(target).filter(level=Level.VILLAGE))
        self.villages: dict[str, list[Node]] = defaultdict(list)
        for village in villages:
            self.villages[village.name].append(village)
        self.places: dict[int, dict[str, list[Node]]] = {}

    def error(self, row: int, key: str, message: str, *, column: str = "") -> None:
        self.errors.append(RowError(row, column or self.table.header(key), str(message)))
        self.bad_rows.add(row)

    # --- the steps ------------------------------------------------------------------------

    def run(self) -> Plan:
        fatal = bool(self.errors)
        required = ["number"] if self.target.level == Level.VILLAGE else ["village", "number"]
        for key in required:
            if key not in self.table.headers:
                self.error(
                    self.table.header_row,
                    key,
                    _("This column is missing."),
                    column=COLUMN_BY_KEY[key].header,
                )
                fatal = True
        if fatal:
            rows = len(self.table.rows)
            return Plan([], self.errors, rows, 0, rows, 0, rows)
        groups = self._groups()
        for group in groups:
            self._check_household(group)
        self._check_duplicates(groups)
        self._match_archive(groups)
        good = [
            g for g in groups if g.resolvable and not any(r.number in self.bad_rows for r in g.rows)
        ]
        items = [self._item(g) for g in good]
        good_ids = {id(g) for g in good}
        skipped = [g for g in groups if id(g) not in good_ids]
        self.errors.sort(key=lambda e: e.row)
        return Plan(
            items=items,
            errors=self.errors,
            rows=len(self.table.rows),
            households=len(groups),
            bad_rows=len(self.bad_rows),
            skipped_households=len(skipped),
            skipped_rows=sum(len(g.rows) for g in skipped),
            item_rows=[g.rows for g in good],
        )

    def _village(self, row: LedgerRow) -> Node | None:
        text = row.text("village")
        if not text or (self.target.level == Level.VILLAGE and text == self.target.name):
            if self.target.level == Level.VILLAGE:
                return self.target
            self.error(row.number, "village", _("Village/community is required."))
            return None
        found = self.villages.get(text, [])
        if len(found) == 1:
            return found[0]
        if found:
            self.error(
                row.number,
                "village",
                _(
                    "Several villages under %(node)s are called “%(name)s”; import into their town "
                    "instead."
                )
                % {"node": self.target.name, "name": text},
            )
        else:
            self.error(
                row.number,
                "village",
                _("No village/community “%(name)s” under %(node)s.")
                % {"name": text, "node": self.target.name},
            )
        return None

    def _groups(self) -> list[_Group]:
        groups: dict[tuple[Any, ...], _Group] = {}
        for row in self.table.rows:
            for key, message in row.problems.items():
                self.error(row.number, key, message)
            village = self._village(row)
            number = row.text("number")
            group_key: tuple[Any, ...] = (
                village.pk if village else ("?", row.text("village")),
                number or ("row", row.number),
            )
            if group_key not in groups:
                groups[group_key] = _Group(village=village, number=number, rows=[])
            groups[group_key].rows.append(row)
        return list(groups.values())

    def _places(self, village: Node, text: str) -> list[Node]:
        """Places under ``village`` called ``text``, or at the "片/组" path ``text``."""
        if village.pk not in self.places:
            below = list(
                Node.objects.subtree(village, include_self=False).only("id", "name", "path")
            )
            names = {n.pk: n.name for n in below}
            index: dict[str, list[Node]] = defaultdict(list)
            for node in below:
                ids = [int(p) for p in node.path.strip("/").split("/")]
                index[node.name].append(node)
                rel = "/".join(names[i] for i in ids[ids.index(village.pk) + 1 :])
                if "/" in rel:
                    index[rel].append(node)
            self.places[village.pk] = index
        return self.places[village.pk].get(text.replace(" ", ""), [])

    def _check_household(self, group: _Group) -> None:
        for key in HOUSEHOLD_KEYS:
            if key in ("village", "number"):
                continue
            for row in group.rows:
                value = row.text(key)
                if not value:
                    continue
                if key not in group.merged:
                    group.merged[key], group.source[key] = value, row.number
                elif not _same(key, value, group.merged[key]):
                    self.error(
                        row.number,
                        key,
                        _("Differs from row %(row)d of the same household.")
                        % {"row": group.source[key]},
                    )
        for row in group.rows:
            if any(row.text(k) for k in RESIDENT_KEYS):
                group.members.append(self._clean_member(row))
        self._check_head(group)
        merged = group.merged
        phone = merged.get("household_phone", "")
        if "*" in phone:
            group.masked_phone, phone = phone, ""
        try:
            group.data = clean_household(
                {
                    "number": group.number,
                    "head_name": merged.get("head_name", ""),
                    "address": merged.get("address", ""),
                    "phone": phone,
                    "income_source": merged.get("income_source", ""),
                }
            )
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                key = _HOUSEHOLD_FIELD_KEY.get(name, name)
                for message in messages:
                    self.error(group.source.get(key, group.first_row), key, message)
        if "tags" in merged:
            names = split_tags(merged["tags"])
            unknown = [n for n in names if n not in self.tags]
            if unknown:
                self.error(
                    group.source["tags"],
                    "tags",
                    _("Unknown tag: %(tags)s.") % {"tags": "、".join(unknown)},
                )
            group.tags = list(
                {self.tags[n].pk: self.tags[n] for n in names if n in self.tags}.values()
            )
        if "grid" in merged and group.village is not None:
            places = self._places(group.village, merged["grid"])
            where = {"name": merged["grid"], "village": group.village.name}
            if len(places) == 1:
                group.node = places[0]
            elif places:
                self.error(
                    group.source["grid"],
                    "grid",
                    _(
                        "Several places in %(village)s are called “%(name)s”; write the path, e.g. "
                        "一片/一组."
                    )
                    % where,
                )
            else:
                self.error(
                    group.source["grid"],
                    "grid",
                    _("No group/grid “%(name)s” in %(village)s.") % where,
                )

    def _check_head(self, group: _Group) -> None:
        """Exactly one 户主 row, whose name is the household's 户主姓名."""
        codes = [_relation_code(m.row.text("relation")) for m in group.members]
        heads = [m for m, code in zip(group.members, codes, strict=True) if code == Relation.HEAD]
        if not group.resolvable:
            if heads and "head_name" not in group.merged:
                group.merged["head_name"] = heads[0].row.text("name")
            return
        if not group.members:
            return
        if not heads and None not in codes:
            self.error(
                group.members[0].row.number,
                "relation",
                _("Household %(number)s has no row whose relation is 户主.")
                % {"number": group.number},
            )
        for extra in heads[1:]:
            self.error(
                extra.row.number,
                "relation",
                _("Household %(number)s already has its 户主 on row %(row)d.")
                % {"number": group.number, "row": heads[0].row.number},
            )
        if not heads or not heads[0].row.text("name"):
            return
        head_name = heads[0].row.text("name")
        if "head_name" not in group.merged:
            group.merged["head_name"], group.source["head_name"] = head_name, heads[0].row.number
        elif group.merged["head_name"] != head_name:
            self.error(
                heads[0].row.number,
                "name",
                _("The 户主 row's name differs from 户主姓名 “%(head)s”.")
                % {"head": group.merged["head_name"]},
            )

    def _clean_member(self, row: LedgerRow) -> _Member:
        raw = {key: row.cells.get(key, "") for key in _RESIDENT_FIELDS}
        member = _Member(row=row, data=None, provided={k for k in _RESIDENT_FIELDS if row.text(k)})
        for key, attr in (
            ("id_number", "masked_id"),
            ("phone", "masked_phone"),
            ("birth_date", "masked_birth"),
        ):
            if "*" in row.text(key):
                setattr(member, attr, row.text(key))
                raw[key] = ""
                member.provided.discard(key)
        works_away = row.text("works_away")
        raw["works_away"] = works_away in YES_WORDS
        ok = True
        if works_away and works_away not in YES_WORDS | NO_WORDS:
            self.error(row.number, "works_away", _("Write 是 or 否."))
            ok = False
        try:
            data = clean_resident(raw, today=self.today)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                for message in messages:
                    self.error(row.number, name, message)
            return member
        data["works_away"] = works_away in YES_WORDS
        data.pop("health_notes", None)  # not a ledger column: never touched by an import
        member.data = data if ok else None
        return member

    def _check_duplicates(self, groups: list[_Group]) -> None:
        seen_ids: dict[str, int] = {}
        for group in groups:
            names: dict[str, _Member] = {}
            for member in group.members:
                id_number = member.data["id_number"] if member.data else ""
                row = member.row.number
                if id_number:
                    if id_number in seen_ids:
                        self.error(
                            row,
                            "id_number",
                            _("Same ID number as row %(row)d.") % {"row": seen_ids[id_number]},
                        )
                    else:
                        seen_ids[id_number] = row
                name = member.row.text("name")
                earlier = names.get(name)
                if (
                    name
                    and earlier is not None
                    and not (id_number and earlier.data and earlier.data["id_number"])
                ):
                    self.error(
                        row,
                        "name",
                        _(
                            "Same name as row %(row)d of this household; add "
                            "ID numbers to tell them apart."
                        )
                        % {"row": earlier.row.number},
                    )
                names.setdefault(name, member)

    # --- matching against the archive -----------------------------------------------------

    def _match_archive(self, groups: list[_Group]) -> None:
        resolvable = [g for g in groups if g.resolvable]
        village_ids = sorted({g.village.pk for g in resolvable if g.village})
        existing: dict[tuple[int, str], Household] = {}
        for chunk in _chunks(sorted({g.number for g in resolvable})):
            for household in Household.objects.filter(
                village_id__in=village_ids, number__in=chunk
            ).defer("income_notes"):
                existing[(household.village_id, household.number)] = household
        members: dict[int, list[Resident]] = defaultdict(list)
        for chunk in _chunks([h.pk for h in existing.values()]):
            for resident in (
                Resident.objects.filter(household_id__in=chunk).defer("health_notes").order_by("id")
            ):
                members[resident.household_id].append(resident)
        hashes = {
            m.data["id_number"]: blind_index(m.data["id_number"], "id_number")
            for g in resolvable
            for m in g.members
            if m.data and m.data["id_number"]
        }
        by_hash: dict[str, Resident] = {}
        for chunk in _chunks(sorted(set(hashes.values()))):
            for resident in (
                Resident.objects.filter(id_number_hash__in=chunk)
                .select_related("household__village", "household__node")
                .only(
                    "household_id",
                    "id_number_hash",
                    "household__number",
                    "household__village__name",
                    "household__node__path",
                )
            ):
                by_hash[resident.id_number_hash] = resident
        for group in resolvable:
            assert group.village is not None
            group.existing = existing.get((group.village.pk, group.number))
            self._match_household_phone(group)
            claimed: dict[int, int] = {}
            own = members.get(group.existing.pk, []) if group.existing else []
            for member in group.members:
                self._match_member(group, member, own, by_hash, hashes, claimed)

    def _match_household_phone(self, group: _Group) -> None:
        if not group.masked_phone:
            return
        recorded = plain(group.existing.phone) if group.existing else ""
        if not recorded or mask_phone(recorded) != group.masked_phone:
            self.error(
                group.source["household_phone"],
                "household_phone",
                _(
                    "A masked phone number cannot be imported unless it matches the record; enter "
                    "the full number."
                ),
            )

    def _match_member(
        self,
        group: _Group,
        member: _Member,
        own: list[Resident],
        by_hash: dict[str, Resident],
        hashes: dict[str, Digest],
        claimed: dict[int, int],
    ) -> None:
        if member.data is None:
            return
        row = member.row.number
        id_number = member.data["id_number"]
        found: Resident | None = None
        if id_number:
            found = by_hash.get(hashes[id_number])
            if found is not None and (
                group.existing is None or found.household_id != group.existing.pk
            ):
                other = found.household
                if other.node.path.startswith(self.target.path):
                    message = _(
                        "This ID number is already registered in household %(number)s "
                        "of %(village)s."
                    ) % {"number": other.number, "village": other.village.name}
                else:
                    # Not where: the importer may not see that village (an existence oracle,
                    # an existence oracle); the same words as the member form's refusal.
                    from minqing.households.services import ID_NOT_REGISTRABLE

                    message = str(ID_NOT_REGISTRABLE)
                self.error(row, "id_number", message)
                return
            if found is not None:  # the fully loaded member, not the slim lookup row
                found = next(r for r in own if r.pk == found.pk)
            else:  # a member recorded without ID number gets it now
                same = [r for r in own if r.name == member.data["name"] and not r.id_number]
                found = same[0] if len(same) == 1 else None
        else:
            same = [r for r in own if r.name == member.data["name"]]
            if member.masked_id:
                same = [
                    r
                    for r in same
                    if r.id_number and id_mask_matches(plain(r.id_number), member.masked_id)
                ]
                if len(same) != 1:
                    self.error(
                        row,
                        "id_number",
                        _(
                            "A masked ID number cannot be imported unless it matches the record; "
                            "enter the full number."
                        ),
                    )
                    return
            if len(same) > 1:
                self.error(
                    row,
                    "name",
                    _(
                        "Several members of household %(number)s are called "
                        "%(name)s; add the ID number."
                    )
                    % {"number": group.number, "name": member.data["name"]},
                )
                return
            found = same[0] if same else None
        if member.masked_phone and (
            found is None
            or not found.phone
            or mask_phone(plain(found.phone)) != member.masked_phone
        ):
            self.error(
                row,
                "phone",
                _(
                    "A masked phone number cannot be imported unless it "
                    "matches the record; enter the full number."
                ),
            )
            return
        if member.masked_birth and (
            found is None or not birth_mask_matches(found.birth_date, member.masked_birth)
        ):
            self.error(
                row,
                "birth_date",
                _(
                    "A masked birth date cannot be imported unless it matches the record; "
                    "enter the full date."
                ),
            )
            return
        if found is not None:
            _keep_masked_text(member, found, group.existing)
            if found.pk in claimed:
                self.error(
                    row,
                    "name",
                    _("Row %(row)d already stands for this person.") % {"row": claimed[found.pk]},
                )
                return
            claimed[found.pk] = row
            member.pk = found.pk
            self._keep_derived(member, found)

    @staticmethod
    def _keep_derived(member: _Member, found: Resident) -> None:
        """Sex and birth date read off the ID number fill only blanks of the record."""
        assert member.data is not None
        if "id_number" in member.provided:
            if not found.sex:
                member.provided.add("sex")
            if found.birth_date is None:
                member.provided.add("birth_date")

    # --- the plan -------------------------------------------------------------------------

    def _item(self, group: _Group) -> HouseholdImport:
        assert group.village is not None
        data = {"number": group.number, "head_name": group.data.get("head_name", "")}
        for key in ("address", "income_source"):
            if key in group.merged or group.existing is None:
                data[key] = group.data.get(key, "")
                existing = group.existing
                if (
                    existing is not None
                    and "*" in str(data[key])
                    and data[key] == _masked_for_children(existing, getattr(existing, key) or "")
                ):
                    del data[key]  # the masked export's text: unchanged
        if group.existing is None or ("household_phone" in group.merged and not group.masked_phone):
            data["phone"] = group.data.get("phone", "")
        residents = []
        for member in group.members:
            assert member.data is not None
            if member.pk is None:
                residents.append(ResidentImport(data=member.data))
            else:
                residents.append(
                    ResidentImport(
                        data={k: v for k, v in member.data.items() if k in member.provided},
                        pk=member.pk,
                    )
                )
        return HouseholdImport(
            village=group.village,
            data=data,
            node=group.node,
            tags=group.tags,
            pk=group.existing.pk if group.existing else None,
            residents=residents,
        )


def _keep_masked_text(member: _Member, found: Resident, household: Household | None) -> None:
    """A masked export names no child in its free text (``households.presentation``): a cell
    that is the record with the children's names masked means "unchanged", never "write the
    stars over the names"."""
    from minqing.households.selectors.shown import RESIDENT_TEXT_FIELDS

    if member.data is None or household is None:
        return
    data = member.data
    starred = [
        k
        for k in RESIDENT_TEXT_FIELDS
        if k in member.provided and "*" in str(data.get(k)) and data.get(k) != getattr(found, k)
    ]
    for key in starred:  # rare: only then are the household's children read
        if data.get(key) == _masked_for_children(household, getattr(found, key) or ""):
            member.provided.discard(key)


def _masked_for_children(household: Household, text: str) -> str:
    from minqing.households.selectors.shown import HouseholdShown

    return HouseholdShown(None, household, minors_ok=False).text(text)
