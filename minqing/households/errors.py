"""The household archives' refusal codes (``household.*``): what the services, the field rules
and the ledger import answer beside their translated message."""

from __future__ import annotations

from enum import StrEnum

from minqing.lib.errors import register_codes


class HouseholdErrorCode(StrEnum):
    #: An edit sent without the version it was based on (nothing written).
    VERSION_MISSING = "household.version_missing"
    #: A household placed outside any village or community.
    NOT_IN_VILLAGE = "household.not_in_village"
    #: The household number is taken in the village.
    NUMBER_TAKEN = "household.number_taken"
    #: A household moved to another village (only moves within its own village).
    MOVE_OUT_OF_VILLAGE = "household.move_out_of_village"
    #: A member removed without saying why.
    REASON_REQUIRED = "household.reason_required"
    #: A village archive asked of a place that is not a village or community.
    NOT_A_VILLAGE = "household.not_a_village"
    #: Nothing confidential by that name to reveal.
    NOTHING_TO_REVEAL = "household.nothing_to_reveal"
    #: The ID number belongs to a member of a household the editor can see.
    ID_NUMBER_TAKEN = "household.id_number_taken"
    #: The ID number cannot be registered here (its holder lies beyond the editor's reach).
    ID_NUMBER_NOT_REGISTRABLE = "household.id_number_not_registrable"
    #: A ledger row names a place outside the place imported into.
    IMPORT_OUTSIDE_TARGET = "household.import_outside_target"
    #: A ledger row would move a member to another household.
    IMPORT_MOVES_RESIDENT = "household.import_moves_resident"
    #: A ledger file imported already, or being imported right now.
    IMPORT_ALREADY = "household.import_already"
    IMPORT_RUNNING = "household.import_running"
    #: A ledger with errors, or with no valid household, is not imported.
    IMPORT_HAS_ERRORS = "household.import_has_errors"
    IMPORT_NOTHING_VALID = "household.import_nothing_valid"
    #: Field rules (forms, API, ledger rows).
    FIELD_REQUIRED = "household.field_required"
    FIELD_TOO_LONG = "household.field_too_long"
    UNKNOWN_CHOICE = "household.unknown_choice"
    DATE_FORMAT = "household.date_format"
    DATE_INVALID = "household.date_invalid"
    BIRTH_IN_FUTURE = "household.birth_in_future"
    BIRTH_NOT_ID = "household.birth_not_id"
    SEX_NOT_ID = "household.sex_not_id"


register_codes(HouseholdErrorCode)
