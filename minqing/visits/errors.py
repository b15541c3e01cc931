"""The visit diary's refusal codes (``visits.*``): recording a visit, household events and
campaigns, night visits and the quota rules."""

from __future__ import annotations

from enum import StrEnum

from minqing.lib.errors import register_codes


class VisitErrorCode(StrEnum):
    # recording a visit
    DUPLICATE = "visits.duplicate"  # the client id is taken by another record (409)
    UNKNOWN_MODE = "visits.unknown_mode"
    NO_TIME_ZONE = "visits.no_time_zone"
    IN_FUTURE = "visits.in_future"
    BEFORE_LOOKBACK = "visits.before_lookback"
    TOO_MANY_PROBLEMS = "visits.too_many_problems"
    PROBLEM_COLOUR = "visits.problem_colour"
    PROBLEM_DESCRIPTION = "visits.problem_description"
    PROBLEM_RESOLUTION = "visits.problem_resolution"
    PROBLEM_TOO_LONG = "visits.problem_too_long"
    SITUATION_TOO_LONG = "visits.situation_too_long"
    NOT_A_STOP = "visits.not_a_stop"
    UNKNOWN_CATEGORY = "visits.unknown_category"
    COMPANION_OUT_OF_SCOPE = "visits.companion_out_of_scope"
    # household events and campaigns
    FORM_USED = "visits.form_used"
    UNKNOWN_EVENT = "visits.unknown_event"
    DATE_REQUIRED = "visits.date_required"
    EVENT_IN_FUTURE = "visits.event_in_future"
    EVENT_TOO_OLD = "visits.event_too_old"
    NOTE_REQUIRED = "visits.note_required"
    NOT_A_VILLAGE = "visits.not_a_village"
    TAGS_REQUIRED = "visits.tags_required"
    UNKNOWN_TAG = "visits.unknown_tag"
    DUE_OUT_OF_RANGE = "visits.due_out_of_range"
    # night visits
    LEADER_REQUIRED = "visits.leader_required"
    LEADER_NOT_TOWN_STAFF = "visits.leader_not_town_staff"
    DUTY_COUNT = "visits.duty_count"
    DUTY_NOT_TOWN_STAFF = "visits.duty_not_town_staff"
    TEAM_REQUIRED = "visits.team_required"
    TEAM_NOT_VILLAGE = "visits.team_not_village"
    TEAM_TWICE = "visits.team_twice"
    TIME_REQUIRED = "visits.time_required"
    NOT_EVENING = "visits.not_evening"
    ENDS_BEFORE_START = "visits.ends_before_start"
    TOO_LATE = "visits.too_late"
    SLOT_TOO_SHORT = "visits.slot_too_short"
    DATE_PAST = "visits.date_past"
    NOT_SERVICE_DAY = "visits.not_service_day"
    UNKNOWN_RECURRENCE = "visits.unknown_recurrence"
    STOPS_OUT_OF_RANGE = "visits.stops_out_of_range"
    TARGETS_REQUIRED = "visits.targets_required"
    NO_TARGETS = "visits.no_targets"
    # quota rules
    UNKNOWN_KIND = "visits.unknown_kind"
    UNKNOWN_PERIOD = "visits.unknown_period"
    COUNT_OUT_OF_RANGE = "visits.count_out_of_range"
    RULE_TWICE = "visits.rule_twice"
    NO_RULES = "visits.no_rules"
    LOOKBACK_OUT_OF_RANGE = "visits.lookback_out_of_range"


register_codes(VisitErrorCode)
