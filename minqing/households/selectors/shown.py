"""What of a household its reader may see — one helper for the pages, the API and the exports.

Masks of single values live in ``minqing.lib.masking``; this module applies the rules that depend
on the reader and the place: a child under 14 is restricted for readers without the minors
permission *at the household's place*, and then the child's name is also masked wherever the
household's free text mentions it ("邱鑫豪在读小学" → "邱**在读小学", docs/SECURITY-BAR.md §12).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from minqing.accounts.permissions import Action, allowed
from minqing.households.models import Household, Resident
from minqing.lib.masking import NameMask, birth_year

#: Free-text fields of a household and of a resident that may name a child.
HOUSEHOLD_TEXT_FIELDS = (
    "address",
    "income_source",
    "family_situation",
    "children_education",
    "social_relations",
)
RESIDENT_TEXT_FIELDS = ("education", "occupation", "notes")


class HouseholdShown:
    """A household as ``user`` may see it: ``text(value)`` masks its minors' names in any free
    text of the household or its members, ``restricted(resident)`` says whether a member's
    record is withheld."""

    def __init__(
        self,
        user: Any,
        household: Household,
        members: Iterable[Resident] | None = None,
        *,
        minors_ok: bool | None = None,
    ) -> None:
        self.household = household
        self.minors_ok = (
            allowed(user, Action.SEE_MINORS, household) if minors_ok is None else minors_ok
        )
        self.members = list(household.members.all() if members is None else members)
        self.text = NameMask(() if self.minors_ok else (r.name for r in self.members if r.is_minor))

    def restricted(self, resident: Resident) -> bool:
        return resident.is_minor and not self.minors_ok

    def field(self, obj: Household | Resident, name: str) -> str:
        """A free-text field of the household or a member, as shown."""
        return self.text(getattr(obj, name) or "")


def shown_birth_year(resident: Resident) -> int | None:
    """A member's birth as shown without a reveal (the date only in a reveal or an unmasked
    export: see ``minqing.lib.masking``)."""
    return birth_year(resident.birth_date)
