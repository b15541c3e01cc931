"""The public pages' refusal codes (``public.*``)."""

from __future__ import annotations

from enum import StrEnum

from minqing.lib.errors import register_codes


class PublicErrorCode(StrEnum):
    PHONE_REQUIRED = "public.phone_required"


register_codes(PublicErrorCode)
