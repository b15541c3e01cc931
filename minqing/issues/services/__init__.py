"""The closed loop of an issue: one named function per step, used by pages, API, CLI and the
worker alike.

Each function validates its input, locks the row, asks the table of steps whether the actor may
take this step on the issue as it now is (``actions.require(user, step, issue)``: the state, the
issue itself and the actor's right, in one row), applies the change, and writes in the same
transaction a timeline event (``IssueEvent``), an audit row, the similar-issue index and the
notifications (to the unit, and to the people who reported the problem).
A step the state does not allow raises ``IllegalTransition`` (a ``ValidationError``, 409 in the
API) saying what state the issue is in; an edit based on an old version raises ``StaleEdit``.

- ``registration``: 登记, more households reporting the same problem;
- ``handling``: dispatch, accept, work, return, pass on, resolve, revisit, close, sample revisits;
- ``escalation``: the yellow light and escalation when a deadline passes (the worker's sweep);
- ``supervision``: extensions, merging, colours, 吹哨报到, orders, reopening, topics;
- ``settings``: the taxonomy and the deadlines.
"""

from minqing.issues.services.common import (
    IllegalTransition,
    county_of,
    level_unit,
    place_of,
    unit_users,
)
from minqing.issues.services.escalation import (
    default_department,
    issue_escalate,
    issue_warn,
    issues_warn,
    next_level,
)
from minqing.issues.services.handling import (
    issue_accept,
    issue_close,
    issue_dispatch,
    issue_dispatch_by_rule,
    issue_resolve,
    issue_return,
    issue_revisit,
    issue_sample_revisit,
    issue_start,
    issue_transfer,
    issue_update,
)
from minqing.issues.services.registration import (
    issue_add_reporter,
    issue_join_by_rule,
    issue_register,
)
from minqing.issues.services.supervision import (
    extension_decide,
    extension_request,
    issue_call_departments,
    issue_check_in,
    issue_merge,
    issue_offer,
    issue_raise_colour,
    issue_reopen,
    issue_take,
    topic_create,
)

__all__ = [
    "IllegalTransition",
    "county_of",
    "default_department",
    "extension_decide",
    "extension_request",
    "issue_accept",
    "issue_add_reporter",
    "issue_call_departments",
    "issue_check_in",
    "issue_close",
    "issue_dispatch",
    "issue_dispatch_by_rule",
    "issue_escalate",
    "issue_merge",
    "issue_offer",
    "issue_raise_colour",
    "issue_join_by_rule",
    "issue_register",
    "issue_reopen",
    "issue_resolve",
    "issue_return",
    "issue_revisit",
    "issue_sample_revisit",
    "issue_start",
    "issue_take",
    "issue_transfer",
    "issue_update",
    "issue_warn",
    "issues_warn",
    "level_unit",
    "next_level",
    "place_of",
    "topic_create",
    "unit_users",
]
