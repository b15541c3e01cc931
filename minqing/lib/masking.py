"""Server-side masking of personal data (SECURITY.md 10)."""

from __future__ import annotations


def mask_id_number(value: str) -> str:
    """``320102199001011234`` → ``3201**********1234``."""
    if not value:
        return ""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


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
