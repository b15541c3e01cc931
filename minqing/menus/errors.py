"""The quarterly menu's refusal codes (``menus.*``)."""

from __future__ import annotations

from enum import StrEnum

from minqing.lib.errors import register_codes


class MenuErrorCode(StrEnum):
    # XLSForm in and out (minqing.menus.xlsform)
    XLSFORM_UNREADABLE = "menus.xlsform_unreadable"
    XLSFORM_INVALID = "menus.xlsform_invalid"
    XLSFORM_UNSUPPORTED = "menus.xlsform_unsupported"
    # questions and skip logic (minqing.menus.logic, minqing.menus.checks)
    EXPRESSION = "menus.expression"
    UNKNOWN_QUESTION = "menus.unknown_question"
    DUPLICATE_NAME = "menus.duplicate_name"
    BAD_NAME = "menus.bad_name"
    MISSING_CHOICES = "menus.missing_choices"
    LABEL_REQUIRED = "menus.label_required"
    LABEL_TOO_LONG = "menus.label_too_long"
    BAD_TYPE = "menus.bad_type"
    BAD_APPLIES = "menus.bad_applies"
    BAD_CHOICES = "menus.bad_choices"
    FORWARD_REFERENCE = "menus.forward_reference"
    NOTE_REFERENCE = "menus.note_reference"
    OTHER_VERSION = "menus.other_version"
    NOT_A_CHOICE = "menus.not_a_choice"
    NOT_MULTIPLE = "menus.not_multiple"
    USE_SELECTED = "menus.use_selected"
    TYPE_MISMATCH = "menus.type_mismatch"
    CONSTRAINT_NOT_ALLOWED = "menus.constraint_not_allowed"
    # authoring (minqing.menus.services.authoring)
    NOT_A_DRAFT = "menus.not_a_draft"
    EMPTY = "menus.empty"
    BAD_QUARTER = "menus.bad_quarter"
    MENU_EXISTS = "menus.menu_exists"
    VERSION_FROZEN = "menus.version_frozen"
    NOT_SUBMITTED = "menus.not_submitted"
    BAD_MERGE = "menus.bad_merge"
    BAD_RULE = "menus.bad_rule"
    BAD_THEMES = "menus.bad_themes"
    NOT_APPROVED = "menus.not_approved"
    NOT_PUBLISHED = "menus.not_published"
    DRAFT_EXISTS = "menus.draft_exists"
    # campaigns and answers (minqing.menus.services.campaigns, .answers)
    BAD_WINDOW = "menus.bad_window"
    NOT_PUBLISHED_VERSION = "menus.not_published_version"
    CAMPAIGN_OVERLAP = "menus.campaign_overlap"
    DUPLICATE = "menus.duplicate"
    NOT_YOUR_TASK = "menus.not_your_task"
    ALREADY_DONE = "menus.already_done"
    UNKNOWN_OUTCOME = "menus.unknown_outcome"
    REASON_REQUIRED = "menus.reason_required"
    ANSWERS = "menus.answers"
    WRONG_VERSION = "menus.wrong_version"
    CAMPAIGN_CLOSED = "menus.campaign_closed"
    BAD_TIME = "menus.bad_time"
    CALL_LIMIT = "menus.call_limit"
    CALLS_FIRST = "menus.calls_first"
    UNKNOWN_RESULT = "menus.unknown_result"
    SAMPLE_SIZE = "menus.sample_size"


register_codes(MenuErrorCode)
