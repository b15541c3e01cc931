"""Contact-network services: rules, liaisons, hand-set links and the assignment run.

Every change to the contact network goes through one function here, called alike by the pages,
the worker and the command line; each checks who may do it and writes its audit row.
"""

from minqing.contacts.services.assignment import (
    RUN_JOB,
    STALE_RUN,
    assign,
    assign_queue,
    assign_start,
    run_claim,
)
from minqing.contacts.services.common import (
    MANAGE_ROLES,
    RULE_ROLES,
    can_edit_rules,
    can_manage,
    county_of,
    require_manage,
    village_of,
)
from minqing.contacts.services.liaisons import (
    liaison_add,
    liaison_retire,
    liaison_update,
    link_release,
    link_set,
)
from minqing.contacts.services.rules import (
    CATEGORY_BITS,
    DEFAULT_MATCHES,
    DEFAULT_RULES,
    DIFFICULT_TAGS,
    rule_limits,
    rules_for,
    rules_save,
    rules_stamp,
)

__all__ = [
    "CATEGORY_BITS",
    "DEFAULT_MATCHES",
    "DEFAULT_RULES",
    "DIFFICULT_TAGS",
    "MANAGE_ROLES",
    "RULE_ROLES",
    "RUN_JOB",
    "STALE_RUN",
    "assign",
    "assign_queue",
    "assign_start",
    "can_edit_rules",
    "can_manage",
    "county_of",
    "liaison_add",
    "liaison_retire",
    "liaison_update",
    "link_release",
    "link_set",
    "rule_limits",
    "require_manage",
    "rules_for",
    "rules_save",
    "rules_stamp",
    "run_claim",
    "village_of",
]
