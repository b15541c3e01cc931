"""The contact network's defaults (docs/DOMAIN.md §2): a county's rules before it sets its own, and
the fixed limits every county shares. Constants only, read by services and selectors alike."""

from __future__ import annotations

from minqing.contacts.models import LiaisonCategory, LiaisonKind

#: kind → (min, max, required, active) for a county that has not set its own rules (docs/DOMAIN.md
#: §2).
DEFAULT_RULES = {
    LiaisonKind.GROUP_LEADER: (0, 120, True, True),
    LiaisonKind.PARTY_MEMBER: (0, 40, True, True),
    LiaisonKind.REPRESENTATIVE: (5, 15, True, False),
    LiaisonKind.CADRE: (0, 2, False, False),
}
#: 病灾困难户: the households a cadre pairs with ("1+1") and 两委党员 are matched to.
DIFFICULT_TAGS = ("poverty_exited", "monitored", "dibao", "wubao", "disabled", "elderly_alone")
#: category → household tags it suits; () = households with none of the key tags (一般农户).
DEFAULT_MATCHES = {
    LiaisonCategory.ORDINARY: (),
    LiaisonCategory.MOBILE: ("migrant_worker",),
    LiaisonCategory.COMMITTEE: DIFFICULT_TAGS,
    LiaisonCategory.YOUNG: ("old_party_member", *DIFFICULT_TAGS),
}
CATEGORY_BITS = {c: i for i, c in enumerate(c for c in LiaisonCategory.values if c)}
#: A liaison must be an adult.
ADULT = 18
