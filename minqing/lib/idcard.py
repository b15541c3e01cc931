"""Resident identity card numbers (公民身份号码, GB 11643-1999) and mobile phone numbers."""

from __future__ import annotations

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")
_PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE_RE = re.compile(r"^0\d{2,3}-?\d{7,8}$")


def check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits."""
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def normalize_id_number(value: str) -> str:
    return (value or "").strip().replace(" ", "").upper()


def validate_id_number(value: str) -> str:
    """Return the normalised ID number or raise ValidationError saying what is wrong."""
    value = normalize_id_number(value)
    if not _ID_RE.match(value):
        raise ValidationError(
            _("ID number must be 17 digits followed by a digit or X."), code="id_format"
        )
    if birth_date_from_id(value) is None:
        raise ValidationError(_("ID number contains an impossible birth date."), code="id_birth")
    if check_digit(value[:17]) != value[17]:
        raise ValidationError(_("ID number check digit is wrong."), code="id_check")
    return value


def birth_date_from_id(value: str) -> dt.date | None:
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return None
    if born.year < 1880 or born > dt.date.today():  # noqa: DTZ011 - a calendar date, no time zone
        return None
    return born


def sex_from_id(value: str) -> str:
    """'M' or 'F' from the order code's parity (odd = male)."""
    return "M" if int(value[16]) % 2 else "F"


def normalize_phone(value: str) -> str:
    value = (value or "").strip().replace(" ", "").replace("-", "")
    if value.startswith("+86"):
        value = value[3:]
    return value


def validate_phone(value: str) -> str:
    """Mainland mobile (11 digits from 13x–19x) or a landline with area code."""
    raw = (value or "").strip()
    mobile = normalize_phone(raw)
    if _PHONE_RE.match(mobile):
        return mobile
    if _LANDLINE_RE.match(raw.replace(" ", "")):
        return raw.replace(" ", "")
    raise ValidationError(
        _(
            "Phone must be an 11-digit mobile number starting with 13–19, "
            "or a landline such as 0558-1234567."
        ),
        code="phone_format",
    )


def looks_like_id_number(query: str) -> bool:
    return bool(re.fullmatch(r"\d{17}[\dXx]", query.strip()))


def looks_like_phone(query: str) -> bool:
    return bool(_PHONE_RE.match(normalize_phone(query)))


def make_id_number(region: str, born: dt.date, sequence: int, sex: str) -> str:
    """Build a valid ID number (for demo data and tests): 6-digit region, birth date, order code.

    ``sequence`` picks the first two order digits; the third is odd for men, even for women.
    """
    base = sequence % 100 * 10 + (sequence // 100) % 5 * 2
    order = base + 1 if sex == "M" else base
    first17 = f"{region[:6]}{born:%Y%m%d}{order:03d}"
    return first17 + check_digit(first17)
