"""Errors that services raise and views translate into HTTP answers, each with a stable code.

A service refuses with Django's ``ValidationError(message, code=...)``, the message translated
for the reader and the code a machine-readable constant from an ``ErrorCode`` enumeration (as
Saleor's ``OrderErrorCode``): the pages show the message, the API returns both, and the OpenAPI
schema lists every code an answer may carry. An app declares its codes in its ``errors.py``::

    class IssueErrorCode(StrEnum):
        NOT_OPEN = "issue.not_open"

    register_codes(IssueErrorCode)

which makes the codes known to the schema (the app's ``AppConfig.ready`` imports the
module). A code never changes once released; a new refusal gets a new code.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext_lazy as _


class ErrorCode(StrEnum):
    """The base of every app's codes; these are the ones any answer may carry."""

    INVALID = "invalid"  # bad input with no more specific code (Django's own default)
    REQUIRED = "required"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    STALE_EDIT = "stale_edit"
    INVALID_TRANSITION = "invalid_transition"
    RATE_LIMITED = "rate_limited"
    BAD_JSON = "bad_json"
    SERVER_ERROR = "server_error"


_REGISTERED: dict[str, type[StrEnum]] = {}
_GENERIC = frozenset(c.value for c in ErrorCode)

#: Django's own validation codes a service or form may let through (field validators).
DJANGO_CODES = (
    "max_length",
    "min_length",
    "max_value",
    "min_value",
    "invalid_choice",
    "max_digits",
    "max_decimal_places",
    "max_whole_digits",
    "unique",
    "unique_together",
    "null",
    "blank",
    "invalid_date",
    "invalid_time",
    "overflow",
    "step_size",
)


def register_codes(*enums: type[StrEnum]) -> None:
    """Make an app's codes known to the API schema; a value claimed twice is a programming
    error (two meanings for one code)."""
    for enum in enums:
        for member in enum:
            owner = _REGISTERED.get(member.value)
            if owner is not None and owner is not enum and member.value not in _GENERIC:
                raise RuntimeError(f"error code {member.value!r} in {owner} and {enum}")
            _REGISTERED.setdefault(member.value, enum)


register_codes(ErrorCode)


def all_codes() -> list[str]:
    """Every code an answer may carry, sorted: the schema's enumeration."""
    return sorted({*_REGISTERED, *DJANGO_CODES})


def code_of(error: ValidationError) -> str:
    """The code of one ``ValidationError`` (``invalid`` where the raiser gave none)."""
    return str(getattr(error, "code", None) or ErrorCode.INVALID)


def codes_by_field(exc: ValidationError) -> dict[str, list[str]]:
    """``{field: [code, …]}`` parallel to ``exc.message_dict`` (``__all__``: no field)."""
    if hasattr(exc, "error_dict"):
        return {
            field: [code_of(e) for e in _flat(errors)] for field, errors in exc.error_dict.items()
        }
    return {NON_FIELD_ERRORS: [code_of(e) for e in _flat(exc.error_list)]}


def first_code(exc: ValidationError) -> str:
    for codes in codes_by_field(exc).values():
        if codes:
            return codes[0]
    return ErrorCode.INVALID.value


def _flat(errors: Iterable[ValidationError]) -> list[ValidationError]:
    out: list[ValidationError] = []
    for error in errors:
        if hasattr(error, "error_list") and error.error_list != [error]:
            out.extend(_flat(error.error_list))
        else:
            out.append(error)
    return out


class StaleEdit(Exception):
    """The edit was based on an older version of the record (docs/SECURITY-BAR.md §18): answer
    409."""

    code = ErrorCode.STALE_EDIT
    message = _(
        "Someone else changed this record after you opened it. Reload, check their "
        "change and apply yours again; your input is kept below."
    )


class PermissionDenied(Exception):
    """The user is in scope but lacks the permission for this action: answer 403."""

    code = ErrorCode.FORBIDDEN


class InvalidTransition(ValidationError):
    """The record is not in a state that allows this step (e.g. revisiting an unresolved
    issue): a form shows the message; the API answers 409 Conflict."""

    def __init__(
        self, message: Any, code: str | None = None, params: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, code=code or ErrorCode.INVALID_TRANSITION, params=params)
