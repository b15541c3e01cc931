"""Field rules for household and resident data, shared by forms, the API and ledger import.

Each ``clean_*`` takes raw strings (as typed or as read from a spreadsheet cell) and returns
typed values, or raises ``ValidationError`` with one message per bad field.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from minqing.households.errors import HouseholdErrorCode
from minqing.households.models import Health, Politics, Relation, Sex
from minqing.lib.idcard import birth_date_from_id, sex_from_id, validate_id_number, validate_phone

#: Chinese spellings accepted for choice fields (ledgers use the words, not codes).
RELATION_WORDS = {
    "户主": Relation.HEAD,
    "本人": Relation.HEAD,
    "配偶": Relation.SPOUSE,
    "妻": Relation.SPOUSE,
    "夫": Relation.SPOUSE,
    "妻子": Relation.SPOUSE,
    "丈夫": Relation.SPOUSE,
    "子": Relation.CHILD,
    "女": Relation.CHILD,
    "儿子": Relation.CHILD,
    "女儿": Relation.CHILD,
    "子女": Relation.CHILD,
    "长子": Relation.CHILD,
    "次子": Relation.CHILD,
    "长女": Relation.CHILD,
    "次女": Relation.CHILD,
    "儿媳": Relation.CHILD_IN_LAW,
    "女婿": Relation.CHILD_IN_LAW,
    "孙子": Relation.GRANDCHILD,
    "孙女": Relation.GRANDCHILD,
    "外孙": Relation.GRANDCHILD,
    "外孙女": Relation.GRANDCHILD,
    "孙子女": Relation.GRANDCHILD,
    "父亲": Relation.PARENT,
    "母亲": Relation.PARENT,
    "父母": Relation.PARENT,
    "祖父母": Relation.GRANDPARENT,
    "祖父": Relation.GRANDPARENT,
    "祖母": Relation.GRANDPARENT,
    "兄弟姐妹": Relation.SIBLING,
    "兄": Relation.SIBLING,
    "弟": Relation.SIBLING,
    "姐": Relation.SIBLING,
    "妹": Relation.SIBLING,
    "其他": Relation.OTHER,
}
SEX_WORDS = {"男": Sex.MALE, "女": Sex.FEMALE, "M": Sex.MALE, "F": Sex.FEMALE}
HEALTH_WORDS = {
    "健康": Health.HEALTHY,
    "良好": Health.HEALTHY,
    "慢性病": Health.CHRONIC,
    "大病": Health.SERIOUS,
    "重病": Health.SERIOUS,
    "残疾": Health.DISABLED,
}
POLITICS_WORDS = {
    "群众": Politics.MASSES,
    "中共党员": Politics.PARTY,
    "党员": Politics.PARTY,
    "预备党员": Politics.PARTY,
    "共青团员": Politics.LEAGUE,
    "团员": Politics.LEAGUE,
    "民主党派": Politics.OTHER,
}


def _choice(value: str, words: dict[str, Any], choices: Any, field_label: str) -> str:
    value = (value or "").strip()
    if value in words:
        return str(words[value])
    if value in choices.values:
        return value
    for code, label in choices.choices:
        if value == str(label):
            return code
    raise ValidationError(
        _("%(field)s: unknown value “%(value)s”.") % {"field": field_label, "value": value},
        code=HouseholdErrorCode.UNKNOWN_CHOICE,
    )


#: 1980-05-17, 1980/5/17, 1980.5.17, 1980年5月17日, 19800517 — optionally followed by a time,
#: as spreadsheets write dates in all of these ways.
_DATE_RE = re.compile(
    r"^(\d{4})(?:[-/.年](\d{1,2})[-/.月](\d{1,2})日?|(\d{2})(\d{2}))"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$"
)


def parse_date_text(text: str) -> dt.date:
    """A calendar date typed in any of the usual Chinese ledger spellings."""
    match = _DATE_RE.match(text.strip())
    if match is None:
        raise ValidationError(
            _("Birth date must look like 1980-05-17."), code=HouseholdErrorCode.DATE_FORMAT
        )
    year, month, day = match[1], match[2] or match[4], match[3] or match[5]
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        raise ValidationError(
            _("Birth date is not a real calendar date."), code=HouseholdErrorCode.DATE_INVALID
        ) from None


def clean_resident(raw: dict[str, Any], *, today: dt.date | None = None) -> dict[str, Any]:
    """Validate resident fields; ``id_number`` fills birth date and sex when they are blank."""
    errors: dict[str, list[ValidationError]] = {}
    out: dict[str, Any] = {}

    def fail(field: str, exc: ValidationError | str, code: str = "") -> None:
        """File an error under ``field``: a ValidationError keeps its code(s), a message
        takes ``code``."""
        found = (
            exc.error_list
            if isinstance(exc, ValidationError)
            else [ValidationError(exc, code=code)]
        )
        errors.setdefault(field, []).extend(
            ValidationError(str(e.message % e.params if e.params else e.message), code=e.code)
            for e in found
        )

    name = str(raw.get("name") or "").strip()
    if not name:
        fail("name", _("Name is required."), HouseholdErrorCode.FIELD_REQUIRED)
    elif len(name) > 50:
        fail("name", _("Name is longer than 50 characters."), HouseholdErrorCode.FIELD_TOO_LONG)
    out["name"] = name

    id_raw = str(raw.get("id_number") or "").strip()
    out["id_number"] = ""
    if id_raw:
        try:
            out["id_number"] = validate_id_number(id_raw)
        except ValidationError as exc:
            fail("id_number", exc)

    phone_raw = str(raw.get("phone") or "").strip()
    out["phone"] = ""
    if phone_raw:
        try:
            out["phone"] = validate_phone(phone_raw)
        except ValidationError as exc:
            fail("phone", exc)

    for field, words, choices, label, default in (
        ("relation", RELATION_WORDS, Relation, _("Relation to head"), Relation.OTHER),
        ("sex", SEX_WORDS, Sex, _("Sex"), ""),
        ("health", HEALTH_WORDS, Health, _("Health"), Health.HEALTHY),
        ("politics", POLITICS_WORDS, Politics, _("Political status"), Politics.MASSES),
    ):
        value = str(raw.get(field) or "").strip()
        if not value:
            out[field] = str(default)
            continue
        try:
            out[field] = _choice(value, words, choices, str(label))
        except ValidationError as exc:
            fail(field, exc)

    birth = raw.get("birth_date")
    out["birth_date"] = None
    if isinstance(birth, dt.datetime):
        out["birth_date"] = birth.date()
    elif isinstance(birth, dt.date):
        out["birth_date"] = birth
    elif birth and str(birth).strip():
        try:
            out["birth_date"] = parse_date_text(str(birth))
        except ValidationError as exc:
            fail("birth_date", exc)
    today = today or dt.date.today()  # noqa: DTZ011 - calendar date
    if out["birth_date"] and out["birth_date"] > today:
        fail("birth_date", _("Birth date is in the future."), HouseholdErrorCode.BIRTH_IN_FUTURE)

    if out.get("id_number"):
        id_birth = birth_date_from_id(out["id_number"])
        if out["birth_date"] is None:
            out["birth_date"] = id_birth
        elif out["birth_date"] != id_birth:
            fail(
                "birth_date",
                _("Birth date does not match the ID number."),
                HouseholdErrorCode.BIRTH_NOT_ID,
            )
        id_sex = sex_from_id(out["id_number"])
        if not out.get("sex"):
            out["sex"] = id_sex
        elif "sex" not in errors and out["sex"] != id_sex:
            fail("sex", _("Sex does not match the ID number."), HouseholdErrorCode.SEX_NOT_ID)

    for field, limit in (("education", 30), ("occupation", 50)):
        value = str(raw.get(field) or "").strip()
        if len(value) > limit:
            fail(
                field,
                _("Longer than %(n)d characters.") % {"n": limit},
                HouseholdErrorCode.FIELD_TOO_LONG,
            )
        out[field] = value
    works_away = raw.get("works_away")
    out["works_away"] = works_away in (True, "1", "true", "on", "是", "Y", "y")
    out["health_notes"] = str(raw.get("health_notes") or "").strip()
    out["notes"] = str(raw.get("notes") or "").strip()
    if errors:
        raise ValidationError(errors)
    return out


def clean_household(raw: dict[str, Any]) -> dict[str, Any]:
    """Validate household fields (tags are resolved by the caller)."""
    errors: dict[str, list[ValidationError]] = {}
    out: dict[str, Any] = {}
    required, too_long = HouseholdErrorCode.FIELD_REQUIRED, HouseholdErrorCode.FIELD_TOO_LONG
    number = str(raw.get("number") or "").strip()
    if not number:
        errors["number"] = [ValidationError(_("Household number is required."), code=required)]
    elif len(number) > 32:
        errors["number"] = [
            ValidationError(_("Household number is longer than 32 characters."), code=too_long)
        ]
    out["number"] = number
    head = str(raw.get("head_name") or "").strip()
    if not head:
        errors["head_name"] = [ValidationError(_("Head of household is required."), code=required)]
    elif len(head) > 50:
        errors["head_name"] = [
            ValidationError(_("Name is longer than 50 characters."), code=too_long)
        ]
    out["head_name"] = head
    address = str(raw.get("address") or "").strip()
    if len(address) > 200:
        errors["address"] = [
            ValidationError(_("Address is longer than 200 characters."), code=too_long)
        ]
    out["address"] = address
    phone = str(raw.get("phone") or "").strip()
    out["phone"] = ""
    if phone:
        try:
            out["phone"] = validate_phone(phone)
        except ValidationError as exc:
            errors["phone"] = exc.error_list
    for field in (
        "family_situation",
        "income_source",
        "income_notes",
        "children_education",
        "social_relations",
    ):
        out[field] = str(raw.get(field) or "").strip()
    if len(out["income_source"]) > 100:
        errors["income_source"] = [
            ValidationError(_("Longer than %(n)d characters.") % {"n": 100}, code=too_long)
        ]
    if errors:
        raise ValidationError(errors)
    return out
