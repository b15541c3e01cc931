"""联系卡 printed: the cards of a place's households as a PDF, audited as ``contacts.cards``.

The font is embedded (``card_print.card_font``): without an embeddable CJK TrueType font no PDF
is made at all (``CardFontMissing``), never one whose characters a printer cannot draw.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from minqing.accounts.models import User
from minqing.accounts.permissions import Action, allowed
from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_record
from minqing.contacts.card_print import card_font, render_pdf
from minqing.contacts.selectors.cards import CARD_CHUNK, CARD_LEVELS, card_households, cards
from minqing.households.models import Household
from minqing.lib import ratelimit
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied
from minqing.org.models import Node


def cards_pdf(
    *,
    by: User,
    node: Node,
    base_url: str,
    household: Household | None = None,
    context: AuditContext | None = None,
) -> tuple[bytes, int]:
    """The cards of ``node``'s households (or of one of them) as a PDF, one A6 page each;
    returns the PDF and the number of cards. Audited as ``contacts.cards``.

    Without an embeddable CJK font, ``CardFontMissing`` is raised before anything is read or
    audited (the card page says what to install).

    Out-of-scope places and households elsewhere raise ``Node.DoesNotExist`` /
    ``Household.DoesNotExist`` (answer 404); a place above a village raises ``ValueError``.
    The cards carry full phone numbers, so printing them needs the reveal permission over the
    place (docs/SECURITY-BAR.md §11), like an unmasked export: ``PermissionDenied`` otherwise.
    """
    ratelimit.consume("cards", by, context=context, audit=True)
    if not allowed(by, Action.VIEW, node):
        raise Node.DoesNotExist
    font = card_font()
    if node.level not in CARD_LEVELS:
        raise ValueError(node.level)
    if not allowed(by, Action.REVEAL, node):
        raise PermissionDenied(_("Your role may not print full phone numbers."))
    households = card_households(node, household)
    if household is not None and not households.exists():
        raise Household.DoesNotExist
    count = households.count()
    with transaction.atomic():
        audit_record(
            action=AuditAction.CONTACTS_CARDS,
            user=by,
            context=context,
            obj=household if household is not None else node,
            detail={"node": node.pk, "households": count},
        )
    data = render_pdf(
        cards(households.iterator(chunk_size=CARD_CHUNK), base_url=base_url), font=font
    )
    return data, count
