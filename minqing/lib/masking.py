"""Server-side masking of personal data (docs/SECURITY-BAR.md §10): the one place that decides what
of a personal value may be shown beside what, on pages, API answers and exports alike.

An ID number (GB 11643) is region (digits 1–6), birth date (7–14), order code (15–17, its last
digit odd for men) and a check character. Whatever is shown together must leave at least
``MIN_ID_CANDIDATES`` numbers an attacker cannot tell apart. The mask keeps the prefecture
(1–4) and the check character only; the birth date itself is never shown beside it, only the
birth year. With the year, the sex and even the exact county guessed from the village, that
still leaves 365 days × 500 order codes ÷ 11 check characters ≈ 16,590 numbers. The older mask
(digits 1–4 and 15–18) with the birth year left 365 ÷ 11 ≈ 33, with the birth date one: every
number was rebuilt from one party member's masked export. Age is not shown
either: it changes on the birthday, so a reader watching the page learns the date.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

#: Fewest ID numbers that everything shown together (without a reveal) may leave.
MIN_ID_CANDIDATES = 10_000

#: Two-character surnames: the given name is what follows them.
_COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 诸葛 上官 东方 皇甫 令狐 慕容 司徒 夏侯 尉迟 长孙 宇文 公孙 端木 澹台 "
    "轩辕 呼延 西门 南宫 独孤 万俟 闻人 钟离 宗政 濮阳 太史 申屠 赫连".split()
)


def mask_id_number(value: str) -> str:
    """``320102199001011234`` → ``3201*************4``: prefecture and check character only."""
    if not value:
        return ""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 5) + value[-1:]


def legacy_mask_id_number(value: str) -> str:
    """The old mask of exports (``3201**********1234``, rebuildable), so old files re-import."""
    if not value or len(value) <= 8:
        return mask_id_number(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def id_mask_matches(full: str, masked: str) -> bool:
    """Does a masked ID number from a ledger file stand for ``full``?"""
    return bool(full) and masked in (mask_id_number(full), legacy_mask_id_number(full))


def birth_year(born: dt.date | None) -> int | None:
    """What of a birth date may be shown without a reveal: the year."""
    return born.year if born else None


def mask_birth_date(born: dt.date | None) -> str:
    """A birth date in a masked ledger: ``1986-**-**`` (re-imports as "unchanged")."""
    return f"{born.year:04d}-**-**" if born else ""


def birth_mask_matches(born: dt.date | None, masked: str) -> bool:
    return born is not None and masked.strip() == mask_birth_date(born)


def mask_phone(value: str) -> str:
    """``13812345678`` → ``138****5678``; landlines keep area code and last 2 digits."""
    if not value:
        return ""
    if len(value) == 11 and value.isdigit():
        return value[:3] + "****" + value[-4:]
    return value[: max(0, len(value) - 6)] + "****" + value[-2:]


def mask_name(value: str) -> str:
    """``王小明`` → ``王**``, for public pages."""
    if not value:
        return ""
    return value[0] + "*" * max(1, len(value) - 1)


def mask_text(value: str) -> str:
    """Free-text sensitive notes (health, income) show only that something is recorded."""
    return "******" if value else ""


def given_name(name: str) -> str:
    """The given name of a Chinese full name (``邱鑫豪`` → ``鑫豪``, ``欧阳娜娜`` → ``娜娜``)."""
    name = name.strip()
    surname = 2 if name[:2] in _COMPOUND_SURNAMES and len(name) > 2 else 1
    return name[surname:]


class NameMask:
    """Masks the given names in free text: each full name as ``邱**`` and each given name of
    two or more characters standing alone as ``**`` (a one-character given name alone is an
    ordinary word, and masking it would garble the text)."""

    def __init__(self, names: Iterable[str]) -> None:
        words: dict[str, str] = {}
        for name in {n.strip() for n in names if n and n.strip()}:
            if len(name) >= 2:
                words[name] = mask_name(name)
            given = given_name(name)
            if len(given) >= 2:
                words.setdefault(given, "*" * len(given))
        self._words = words
        self._pattern = (
            re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))
            if words
            else None
        )

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, text: str | None) -> str:
        if not text or self._pattern is None:
            return text or ""
        return self._pattern.sub(lambda m: self._words[m.group(0)], text)
