"""Free text and phone numbers as services take them from any caller (page, API, import):
trimmed, required or not, bounded; a phone number in its one written form. Each refusal is a
``ValidationError`` under the caller's field name, with a code."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from minqing.lib.errors import ErrorCode
from minqing.lib.idcard import validate_phone


def clean_text(value: Any, field: str, *, required: bool, max_length: int = 2000) -> str:
    """``value`` as trimmed text; refused under ``field`` when required and empty, or longer
    than ``max_length`` characters."""
    text = str(value or "").strip()
    if required and not text:
        raise ValidationError(
            {field: ValidationError(_("This field is required."), code=ErrorCode.REQUIRED)}
        )
    if len(text) > max_length:
        message = _("At most %(n)d characters, please.") % {"n": max_length}
        raise ValidationError({field: ValidationError(message, code="max_length")})
    return text


def clean_phone(value: Any, field: str) -> str:
    """A phone number in its normal form (``""`` for none); refused under ``field`` with the
    validator's code when it is not one."""
    if not str(value or "").strip():
        return ""
    try:
        return validate_phone(str(value))
    except ValidationError as exc:
        raise ValidationError({field: exc.error_list}) from None
