"""Issues (民情问题) and their closed loop: 发现 → 反映 → 解决 → 反馈 (docs/DOMAIN.md §5).

States, colours and levels are documented constants; which step applies in which state, and
who may take it, is the table of steps in ``minqing/issues/actions.py``; every transition is a
named function in ``services`` that writes an ``IssueEvent`` (the timeline) and an audit row in
the same transaction.
"""

from minqing.issues.models.issue import (
    EVENT_LABELS,
    Category,
    DeadlineRule,
    Issue,
    IssueEvent,
    IssuePhoto,
    IssueQuerySet,
    IssueReporter,
    Topic,
)
from minqing.issues.models.states import (
    COLOUR_LEVEL,
    COLOUR_ORDER,
    LEVEL_ORDER,
    OPEN_STATES,
    UNFINISHED_STATES,
    WORKING_STATES,
    Colour,
    Complexity,
    ContactMode,
    EventAction,
    Level,
    Satisfaction,
    Source,
    Status,
)
from minqing.issues.models.work import (
    CheckIn,
    ExtensionRequest,
    IssueTerm,
    LateRecord,
    Revisit,
)

__all__ = [
    "COLOUR_LEVEL",
    "COLOUR_ORDER",
    "EVENT_LABELS",
    "EventAction",
    "LEVEL_ORDER",
    "OPEN_STATES",
    "UNFINISHED_STATES",
    "WORKING_STATES",
    "Category",
    "CheckIn",
    "Colour",
    "Complexity",
    "ContactMode",
    "DeadlineRule",
    "ExtensionRequest",
    "Issue",
    "IssueEvent",
    "IssuePhoto",
    "IssueQuerySet",
    "IssueReporter",
    "IssueTerm",
    "LateRecord",
    "Level",
    "Revisit",
    "Satisfaction",
    "Source",
    "Status",
    "Topic",
]
