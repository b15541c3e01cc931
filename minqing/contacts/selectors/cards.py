"""联系卡 — reading the cards: one A6 card per household naming its responsible people, with
their phones, and a QR code to the resident submission page (居民点单, ``minqing.public``).

The liaisons' own phones are printed in full: reaching them is the point of the card, and they
agreed to it when they took the households. The household's own personal data is not on the
card beyond its head's name and number, which the household already knows. The QR code carries
a signed token naming the household (``django.core.signing``, salt ``contacts.card``); it does
not expire, so a printed card keeps working (rotate ``SECRET_KEY`` with ``SECRET_KEY_FALLBACKS``
or the cards must be reprinted). The printed text is Chinese: the card is for residents.

Printing them (audited) is ``services.cards_pdf``; drawing them is ``card_print``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

from django.core import signing
from django.db.models import QuerySet
from django.urls import reverse

from minqing.contacts.card_print import Card, CardPerson
from minqing.contacts.ledger_sheet import kind_word
from minqing.contacts.models import ContactLink, Liaison, LiaisonKind
from minqing.contacts.selectors.network import household_scope_q
from minqing.households.models import Household, VillageArchive
from minqing.lib.fields import plain
from minqing.org.models import Level, Node

CARD_SALT = "contacts.card"
#: Cards are printed for a village, an area or a grid (or one household of them).
CARD_LEVELS = (Level.VILLAGE, Level.AREA, Level.GRID)
_KIND_ORDER = {kind: i for i, kind in enumerate(LiaisonKind.values)}
#: Households per chunk when reading cards (two queries per chunk).
CARD_CHUNK = 500


# --------------------------------------------------------------------------- the token


def card_token(household_id: int) -> str:
    """The signed token the card's QR code carries."""
    return signing.dumps(household_id, salt=CARD_SALT)


def household_for_token(token: str) -> Household | None:
    """The household a card's token names, or None for a forged, damaged or stale token."""
    try:
        value = signing.loads(token, salt=CARD_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    return Household.objects.select_related("node", "village").filter(pk=value).first()


def card_url(household_id: int, base_url: str) -> str:
    """Where the QR code leads: ``base_url`` (scheme and host) + the submission page."""
    path = reverse("public:submit", kwargs={"token": card_token(household_id)})
    return base_url.rstrip("/") + path


# --------------------------------------------------------------------------- what a card says


def card_households(node: Node, household: Household | None = None) -> QuerySet[Household]:
    """The households to print for ``node``: all of them, or the one given (if it is there)."""
    qs = Household.objects.filter(household_scope_q(node))
    if household is not None:
        qs = qs.filter(pk=household.pk)
    return qs.select_related("node", "village").order_by("village__path", "number", "id")


def cards(households: Iterable[Household], *, base_url: str) -> Iterator[Card]:
    """One card per household, a chunk of households at a time (two queries per chunk)."""
    batch: list[Household] = []
    for household in households:
        batch.append(household)
        if len(batch) >= CARD_CHUNK:
            yield from _cards(batch, base_url)
            batch = []
    if batch:
        yield from _cards(batch, base_url)


def _cards(batch: list[Household], base_url: str) -> Iterator[Card]:
    links: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for household_id, kind, liaison_id in (
        ContactLink.objects.current()
        .filter(household_id__in=[h.pk for h in batch], liaison__active=True)
        .values_list("household_id", "kind", "liaison_id")
    ):
        links[household_id].append((kind, liaison_id))
    wanted = {liaison_id for pairs in links.values() for _kind, liaison_id in pairs}
    people = {
        pk: (name, plain(phone))
        for pk, name, phone in Liaison.objects.filter(pk__in=wanted).values_list(
            "id", "name", "phone"
        )
    }
    offices = office_phones({h.village_id for h in batch})
    for household in batch:
        place = household.node.name if household.node_id != household.village_id else ""
        card = Card(
            household_id=household.pk,
            village=household.village.name,
            place=place,
            number=household.number,
            head_name=household.head_name,
            url=card_url(household.pk, base_url),
            office_phone=offices.get(household.village_id, ""),
        )
        for kind, liaison_id in sorted(
            links.get(household.pk, []), key=lambda p: _KIND_ORDER.get(p[0], 99)
        ):
            name, phone = people[liaison_id]
            card.people.append(CardPerson(kind, kind_word(kind), name, phone))
        yield card


def office_phones(village_ids: Iterable[int]) -> dict[int, str]:
    """The village office phone of each village, for the villages whose archive records one.

    The village archive (``households.VillageArchive``) has no office phone field yet; the
    cards print one as soon as it has an ``office_phone`` field (one query per chunk).
    """
    if not any(f.name == "office_phone" for f in VillageArchive._meta.get_fields()):
        return {}
    rows = VillageArchive.objects.filter(village_id__in=list(village_ids)).values_list(
        "village_id", "office_phone"
    )
    return {village_id: plain(phone) for village_id, phone in rows if plain(phone)}
