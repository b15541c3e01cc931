"""Reading the contact network, one module per subject:

- ``network``: a place's active rules and who counts as covered for them;
- ``ledger``: the ledger's rows (包保联系台账);
- ``coverage``: the coverage report (覆盖情况);
- ``manage``: a place's liaisons and their loads, the people who could become liaisons, a
  household's people, and the runs of a place (the pages that change the network);
- ``cards``: the contact cards (联系卡) and their tokens.

Functions here take nodes and households the caller has already checked against the user's
scope. The names below are the app's public reading API.
"""

from minqing.contacts.selectors.cards import (
    CARD_LEVELS,
    CARD_SALT,
    Card,
    CardPerson,
    card_households,
    card_token,
    card_url,
    cards,
    household_for_token,
    office_phones,
)
from minqing.contacts.selectors.coverage import SAME_VILLAGE_KINDS, coverage
from minqing.contacts.selectors.ledger import (
    LEDGER_FIELDS,
    LedgerCell,
    LedgerRow,
    ledger_households,
    ledger_places,
    ledger_rows,
    ledger_values,
    place_path,
)
from minqing.contacts.selectors.manage import (
    HouseholdContacts,
    KindGroup,
    Suggestion,
    account_candidates,
    account_in,
    household_contacts,
    liaison_place_q,
    liaisons_by_kind,
    resident_candidates,
    resident_in,
    runs_of,
    suggest_for_account,
    suggest_for_resident,
    with_load,
)
from minqing.contacts.selectors.network import (
    ABOVE_VILLAGE,
    KindRule,
    covered_q,
    eligible_q,
    household_scope_q,
    kind_rules,
    lacks_q,
    rule_limits,
    village_of,
)

__all__ = [
    "ABOVE_VILLAGE",
    "CARD_LEVELS",
    "CARD_SALT",
    "LEDGER_FIELDS",
    "SAME_VILLAGE_KINDS",
    "Card",
    "CardPerson",
    "HouseholdContacts",
    "KindGroup",
    "KindRule",
    "LedgerCell",
    "LedgerRow",
    "Suggestion",
    "account_candidates",
    "account_in",
    "card_households",
    "card_token",
    "card_url",
    "cards",
    "coverage",
    "covered_q",
    "eligible_q",
    "household_contacts",
    "household_for_token",
    "household_scope_q",
    "kind_rules",
    "lacks_q",
    "ledger_households",
    "ledger_places",
    "ledger_rows",
    "ledger_values",
    "liaison_place_q",
    "liaisons_by_kind",
    "office_phones",
    "place_path",
    "resident_candidates",
    "resident_in",
    "rule_limits",
    "runs_of",
    "suggest_for_account",
    "suggest_for_resident",
    "village_of",
    "with_load",
]
