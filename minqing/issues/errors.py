"""The issues' refusal codes (``issue.*``): stable beside the translated text, returned by the
API (``code``, and per field in ``codes``) and listed in its schema."""

from __future__ import annotations

from enum import StrEnum

from django.core.exceptions import ValidationError

from minqing.lib.errors import register_codes


class IssueErrorCode(StrEnum):
    # The step and the issue's state (409)
    WRONG_STATE = "issue.wrong_state"  # the issue's state does not allow the step
    NOT_NOW = "issue.not_now"  # the state allows it, the issue itself does not (yet)
    NOT_REVISITED = "issue.not_revisited"  # closing a resolved issue nobody asked about
    FINISHED = "issue.finished"  # reporting to a closed or merged issue
    ALREADY_DECIDED = "issue.already_decided"  # an extension request decided meanwhile
    ALREADY_REPORTED_IN = "issue.already_reported_in"  # the department reported in meanwhile
    MERGE_TARGET_CLOSED = "issue.merge_target_closed"
    # Where an issue is and who handles it (400)
    PLACE_LEVEL = "issue.place_level"  # registered above a village, community, area or grid
    NOT_IN_VILLAGE = "issue.not_in_village"  # the place is in no village or community
    HOUSEHOLD_ELSEWHERE = "issue.household_elsewhere"  # not in the issue's village
    HOUSEHOLD_OUTSIDE_SCOPE = "issue.household_outside_scope"
    REPORTER_REQUIRED = "issue.reporter_required"  # neither a household nor a name
    ALREADY_REPORTED = "issue.already_reported"  # the household is a reporter already
    ONE_UNIT = "issue.one_unit"  # a dispatch names no unit, or two
    DEPARTMENT_ELSEWHERE = "issue.department_elsewhere"  # a department of another county
    UNIT_NOT_ALLOWED = "issue.unit_not_allowed"  # not its village, its town or the county
    SAME_UNIT = "issue.same_unit"  # passed on to the unit that has it
    RESPONSIBLE_ELSEWHERE = "issue.responsible_elsewhere"  # does not work for that unit
    CONFIRM_LEVEL = "issue.confirm_level"  # off its colour's level: asked to confirm first
    # The record's values (400)
    UNKNOWN_SOURCE = "issue.unknown_source"
    UNKNOWN_COLOUR = "issue.unknown_colour"
    UNKNOWN_COMPLEXITY = "issue.unknown_complexity"
    CATEGORY_REQUIRED = "issue.category_required"  # none, or an inactive one
    GREEN_NEEDS_RESOLUTION = "issue.green_needs_resolution"
    REPLIES_MISSING = "issue.replies_missing"  # a reporter without a reply on resolving
    UNKNOWN_MODE = "issue.unknown_mode"  # revisit by phone, home visit or WeChat
    UNKNOWN_RESULT = "issue.unknown_result"  # satisfied, basically or not
    WORKDAYS = "issue.workdays"  # an extension's working days: a whole number in range
    COLOUR_NOT_RAISED = "issue.colour_not_raised"  # a colour only goes up
    DEPARTMENTS_REQUIRED = "issue.departments_required"
    MERGE_ITSELF = "issue.merge_itself"
    MERGE_NOT_SUPERVISOR = "issue.merge_not_supervisor"  # not a supervisor of the target
    TOPIC_ISSUES_REQUIRED = "issue.topic_issues_required"
    TOPIC_COUNTIES = "issue.topic_counties"  # a topic's issues in more than one county
    UNKNOWN_TARGET = "issue.unknown_target"  # an issue, unit, place or household not found
    # Photos (400)
    PHOTO_EMPTY = "issue.photo_empty"
    PHOTO_TOO_LARGE = "issue.photo_too_large"
    PHOTO_TYPE = "issue.photo_type"  # not JPEG, PNG or WebP by its bytes
    PHOTO_UNREADABLE = "issue.photo_unreadable"
    PHOTO_PIXELS = "issue.photo_pixels"  # too many pixels to decode safely
    PHOTO_COUNT = "issue.photo_count"  # the issue holds the most photos already
    # Settings (400)
    CATEGORY_CODE_TAKEN = "issue.category_code_taken"
    RULE_UNIT = "issue.rule_unit"  # working days or months
    RULE_AMOUNT = "issue.rule_amount"


register_codes(IssueErrorCode)


def field_error(field: str, message: str, code: IssueErrorCode) -> ValidationError:
    """A refusal of one field's value, with its code: ``{field: [ValidationError]}``."""
    return ValidationError({field: ValidationError(message, code=code)})
