"""The organisation tree's refusal codes (``org.*``)."""

from __future__ import annotations

from enum import StrEnum

from minqing.lib.errors import register_codes


class OrgErrorCode(StrEnum):
    NAME_REQUIRED = "org.name_required"
    UNKNOWN_LEVEL = "org.unknown_level"
    LEVEL_ORDER = "org.level_order"
    NAME_TAKEN = "org.name_taken"
    MOVE_UNDER_ITSELF = "org.move_under_itself"
    NOT_IN_COUNTY = "org.not_in_county"


register_codes(OrgErrorCode)
