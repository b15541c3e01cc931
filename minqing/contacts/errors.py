"""The contact network's refusal codes (``contacts.<what>``), beside each translated message.

A code never changes once released; a new refusal gets a new code.
"""

from __future__ import annotations

from enum import StrEnum

from minqing.lib.errors import register_codes


class ContactErrorCode(StrEnum):
    # A liaison's details
    KIND_UNKNOWN = "contacts.kind_unknown"
    CATEGORY_UNKNOWN = "contacts.category_unknown"
    PLACE_LEVEL = "contacts.place_level"
    CAPACITY_RANGE = "contacts.capacity_range"
    RESIDENT_ELSEWHERE = "contacts.resident_elsewhere"
    NOT_ADULT = "contacts.not_adult"
    ALREADY_LIAISON = "contacts.already_liaison"
    PLACE_OTHER_VILLAGE = "contacts.place_other_village"
    ALREADY_RETIRED = "contacts.already_retired"
    # Hand-set links
    LIAISON_RETIRED = "contacts.liaison_retired"
    LIAISON_OTHER_VILLAGE = "contacts.liaison_other_village"
    LINK_NOT_MANUAL = "contacts.link_not_manual"
    # Places
    NOT_IN_VILLAGE = "contacts.not_in_village"
    # Rules
    LOAD_RANGE = "contacts.load_range"
    MATCH_INVALID = "contacts.match_invalid"
    MATCH_DUPLICATE = "contacts.match_duplicate"
    MATCH_GONE = "contacts.match_gone"
    # Assignment runs
    RUN_UNDER_WAY = "contacts.run_under_way"


register_codes(ContactErrorCode)
