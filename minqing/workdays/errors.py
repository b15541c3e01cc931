"""The working-day calendar's refusal codes (``workdays.*``)."""

from __future__ import annotations

from enum import StrEnum

from minqing.lib.errors import register_codes


class WorkdaysErrorCode(StrEnum):
    CALENDAR_UNKNOWN = "workdays.calendar_unknown"
    YEAR_RANGE = "workdays.year_range"
    NAME_LENGTH = "workdays.name_length"
    NO_ENTRY = "workdays.no_entry"
    NOTE_LENGTH = "workdays.note_length"


register_codes(WorkdaysErrorCode)
