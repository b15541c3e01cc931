"""Contact-network services: rules, liaisons, hand-set links, the assignment run, and the
audited exports (the ledger's Excel file, the contact cards).

Every change to the contact network goes through one function here, called alike by the pages,
the worker and the command line; each checks who may do it and writes its audit row.
"""

from minqing.contacts.services.assignment import (
    RUN_JOB,
    STALE_RUN,
    assign,
    assign_queue,
    assign_start,
    expire_stale,
    run_claim,
)
from minqing.contacts.services.cards import cards_pdf
from minqing.contacts.services.ledger import ledger_export
from minqing.contacts.services.liaisons import (
    liaison_add,
    liaison_retire,
    liaison_update,
    link_release,
    link_set,
)
from minqing.contacts.services.rules import rules_for, rules_save, rules_stamp

__all__ = [
    "RUN_JOB",
    "STALE_RUN",
    "assign",
    "assign_queue",
    "assign_start",
    "cards_pdf",
    "expire_stale",
    "ledger_export",
    "liaison_add",
    "liaison_retire",
    "liaison_update",
    "link_release",
    "link_set",
    "rules_for",
    "rules_save",
    "rules_stamp",
    "run_claim",
]
