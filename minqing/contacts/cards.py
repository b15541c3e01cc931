"""联系卡 — one A6 card per household naming its responsible people, with their phones, and a
QR code to the resident submission page (居民点单, ``minqing.public``).

The liaisons' own phones are printed in full: reaching them is the point of the card, and they
agreed to it when they took the households. The household's own personal data is not on the
card beyond its head's name and number, which the household already knows. The QR code carries
a signed token naming the household (``django.core.signing``, salt ``contacts.card``); it does
not expire, so a printed card keeps working (rotate ``SECRET_KEY`` with ``SECRET_KEY_FALLBACKS``
or the cards must be reprinted). The printed text is Chinese: the card is for residents.

The font is embedded (``card_print.card_font``): without an embeddable CJK TrueType font no PDF
is made at all (``CardFontMissing``), never one whose characters a printer cannot draw.
"""

from __future__ import annotations

import functools
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.core import signing
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.permissions import Action, allowed
from minqing.audit.services import audit_record
from minqing.contacts.card_print import card_font
from minqing.contacts.ledger import kind_word
from minqing.contacts.models import ContactLink, Liaison, LiaisonKind
from minqing.contacts.selectors import household_scope_q
from minqing.households.models import Household
from minqing.lib import ratelimit
from minqing.lib.errors import PermissionDenied
from minqing.lib.fields import plain
from minqing.org.models import Level, Node

CARD_SALT = "contacts.card"
#: Cards are printed for a village, an area or a grid (or one household of them).
CARD_LEVELS = (Level.VILLAGE, Level.AREA, Level.GRID)
GREETING = "有事找我们"
_KIND_ORDER = {kind: i for i, kind in enumerate(LiaisonKind.values)}
_CHUNK = 500


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


@dataclass
class CardPerson:
    kind: str
    word: str
    name: str
    phone: str


@dataclass
class Card:
    household_id: int
    village: str
    place: str
    number: str
    head_name: str
    url: str
    people: list[CardPerson] = field(default_factory=list)
    office_phone: str = ""  # 村（社区）办公室电话, when the village archive has one


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
        if len(batch) >= _CHUNK:
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
    from minqing.households.models import VillageArchive

    if not any(f.name == "office_phone" for f in VillageArchive._meta.get_fields()):
        return {}
    rows = VillageArchive.objects.filter(village_id__in=list(village_ids)).values_list(
        "village_id", "office_phone"
    )
    return {village_id: plain(phone) for village_id, phone in rows if plain(phone)}


# --------------------------------------------------------------------------- the PDF


def cards_pdf(
    *,
    by: Any,
    node: Node,
    base_url: str,
    household: Household | None = None,
    request: Any = None,
) -> tuple[bytes, int]:
    """The cards of ``node``'s households (or of one of them) as a PDF, one A6 page each;
    returns the PDF and the number of cards. Audited as ``contacts.cards``.

    Without an embeddable CJK font, ``CardFontMissing`` is raised before anything is read or
    audited (the card page says what to install).

    Out-of-scope places and households elsewhere raise ``Node.DoesNotExist`` /
    ``Household.DoesNotExist`` (answer 404); a place above a village raises ``ValueError``.
    The cards carry full phone numbers, so printing them needs the reveal permission over the
    place (SECURITY.md 11), like an unmasked export: ``PermissionDenied`` otherwise.
    """
    ratelimit.consume("cards", by, request=request, audit=True)
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
            action="contacts.cards",
            user=by,
            request=request,
            obj=household if household is not None else node,
            detail={"node": node.pk, "households": count},
        )
    data = render_pdf(cards(households.iterator(chunk_size=_CHUNK), base_url=base_url), font=font)
    return data, count


_ACCENT = (0xB3 / 255, 0x26 / 255, 0x1E / 255)
_MUTED = (0x5F / 255, 0x6B / 255, 0x76 / 255)


def render_pdf(card_list: Iterable[Card], *, font: str | None = None) -> bytes:
    """Draw the cards, one A6 page each (a blank-free PDF even with no cards: one note page),
    in ``font`` (a registered TrueType name; default ``card_font()``, which may raise
    ``CardFontMissing``)."""
    from reportlab.lib.pagesizes import A6
    from reportlab.pdfgen.canvas import Canvas

    font = font or card_font()
    out = io.BytesIO()
    # The initial font too, or every page would name a non-embedded Helvetica.
    canvas = Canvas(out, pagesize=A6, pageCompression=1, initialFontName=font)
    canvas.setTitle("联系卡")
    canvas.setCreator("Minqing")
    today = timezone.localdate()
    drew = False
    for card in card_list:
        _draw_card(canvas, card, font, today)
        canvas.showPage()
        drew = True
    if not drew:
        canvas.setFont(font, 12)
        canvas.drawString(24, A6[1] - 48, "没有可打印的户。")
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def _fit(canvas: Any, text: str, font: str, size: float, width: float) -> float:
    """The largest font size up to ``size`` at which ``text`` fits in ``width``."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    while size > 6 and stringWidth(text, font, size) > width:
        size -= 0.5
    canvas.setFont(font, size)
    return size


def _draw_card(canvas: Any, card: Card, font: str, today: Any) -> None:
    from reportlab.lib.pagesizes import A6

    width, height = A6
    margin = 18
    inner = width - 2 * margin

    # Header band
    canvas.setFillColorRGB(*_ACCENT)
    canvas.rect(0, height - 54, width, 54, stroke=0, fill=1)
    canvas.setFillColorRGB(1, 1, 1)
    canvas.setFont(font, 20)
    canvas.drawString(margin, height - 36, "民情联系卡")
    _fit(canvas, card.village, font, 11, inner / 2)
    canvas.drawRightString(width - margin, height - 34, card.village)

    # The household
    y = height - 80
    canvas.setFillColorRGB(0, 0, 0)
    where = " ".join(p for p in (card.village, card.place) if p)
    _fit(canvas, where, font, 11, inner)
    canvas.drawString(margin, y, where)
    y -= 18
    line = f"户编号 {card.number}    户主 {card.head_name}"
    _fit(canvas, line, font, 11, inner)
    canvas.drawString(margin, y, line)

    # The people
    y -= 26
    canvas.setFillColorRGB(*_MUTED)
    canvas.setFont(font, 9)
    canvas.drawString(margin, y, "您的联系人")
    canvas.setStrokeColorRGB(*_MUTED)
    canvas.setLineWidth(0.5)
    canvas.line(margin, y - 4, width - margin, y - 4)
    canvas.setFillColorRGB(0, 0, 0)
    y -= 22
    if not card.people:
        canvas.setFont(font, 10)
        canvas.drawString(margin, y, "联系人正在安排中，")
        canvas.drawString(margin, y - 14, "有事请先找村（社区）两委。")
        y -= 36
    rows = [(f"{p.word}  {p.name}", p.phone) for p in card.people[:4]]
    if card.office_phone:
        rows.append(("村（社区）办公室", card.office_phone))
    for text, phone in rows:
        _fit(canvas, text, font, 11, inner)
        canvas.drawString(margin, y, text)
        if phone:
            _fit(canvas, phone, font, 15, inner)
            canvas.drawString(margin + 12, y - 17, phone)
        y -= 36

    # The QR code and the greeting
    size = 104
    _draw_qr(canvas, card.url, x=width - margin - size + 4, y=margin - 4, size=size)
    canvas.setFillColorRGB(*_ACCENT)
    canvas.setFont(font, 18)
    canvas.drawString(margin, margin + 62, GREETING)
    canvas.setFillColorRGB(0, 0, 0)
    canvas.setFont(font, 9)
    canvas.drawString(margin, margin + 44, "扫一扫右边的二维码，")
    canvas.drawString(margin, margin + 31, "反映问题或提出需求，")
    canvas.drawString(margin, margin + 18, "我们会尽快给您回电话。")
    canvas.setFillColorRGB(*_MUTED)
    canvas.setFont(font, 7)
    canvas.drawString(margin, margin, f"{today:%Y年%m月%d日}制")


# --------------------------------------------------------------------------- the QR code
#
# reportlab's QrCodeWidget takes ~120 ms a card (its encoder lays out the symbol eight times in
# pure Python to choose a mask, and each module is drawn as a validated shape): four minutes
# for a village of 2,000 households. Here reportlab's encoder only turns the text into bits and
# gives the layout (patterns, positions, masks, cached per version); the Reed-Solomon step uses
# cached generator polynomials; numpy lays out the eight masked symbols, scores them by the
# penalty rules of ISO/IEC 18004 and the dark runs go out as one filled path. The symbols are
# module for module reportlab's own (tests/test_cards.py compares them): ~3 ms a card.


def qr_modules(text: str) -> list[list[bool]]:
    """The QR code (error correction M) of ``text`` as rows of dark (True) modules."""
    symbols = qr_symbols(text)
    return symbols[int(np.argmin(_penalties(symbols)))].tolist()


def qr_symbols(text: str) -> np.ndarray:
    """The eight masked symbols of ``text`` (masks × n × n), module for module what reportlab's
    ``QRCode.makeImpl(False, mask)`` lays out, without its per-module Python loops."""
    from reportlab.graphics.barcode.qrencoder import QRCode, QRErrorCorrectLevel

    code = QRCode(None, QRErrorCorrectLevel.M)
    code.addData(text)
    version = code.version = code.calculate_version()
    codewords = qr_codewords(version, code.errorCorrectLevel, code.dataList)
    bits = np.unpackbits(np.array(codewords, dtype=np.uint8))  # most significant bit first
    rows, cols = _data_positions(version)
    data = np.zeros(len(rows), dtype=bool)
    data[: min(len(bits), len(rows))] = bits[: len(rows)].astype(bool)
    symbols = _function_patterns(version, code.errorCorrectLevel).copy()
    masks = _mask_grids(version * 4 + 17)
    for mask in range(8):
        symbols[mask][rows, cols] = data ^ masks[mask][rows, cols]
    return symbols


@functools.lru_cache(maxsize=16)
def _function_patterns(version: int, level: int) -> np.ndarray:
    """Finder, alignment and timing patterns, version and format information (per mask)."""
    from reportlab.graphics.barcode.qrencoder import QRCode

    code = QRCode(version, level)
    n = code.moduleCount = version * 4 + 17
    grids = np.empty((8, n, n), dtype=bool)
    for mask in range(8):
        code.modules = [[False] * n for _ in range(n)]
        code.setupPositionProbePattern(0, 0)
        code.setupPositionProbePattern(n - 7, 0)
        code.setupPositionProbePattern(0, n - 7)
        code.setupPositionAdjustPattern()
        code.setupTimingPattern()
        code.setupTypeInfo(False, mask)
        if version >= 7:
            code.setupTypeNumber(False)
        grids[mask] = np.array(code.modules, dtype=bool)
    grids.flags.writeable = False
    return grids


def qr_codewords(version: int, level: int, data_list: list) -> list[int]:
    """The interleaved data and error correction codewords, as reportlab's
    ``QRCode.createData`` makes them (same padding and block order) with a faster
    Reed-Solomon step: generator polynomials cached, remainders by table look-up."""
    from reportlab.graphics.barcode.qrencoder import QRBitBuffer, QRCode, QRRSBlock

    blocks = QRRSBlock.getRSBlocks(version, level)
    buffer = QRBitBuffer()
    for data in data_list:
        data.write(buffer, version)
    capacity = sum(block.dataCount for block in blocks) * 8
    if buffer.getLengthInBits() > capacity:
        raise ValueError(f"code length overflow ({buffer.getLengthInBits()} > {capacity})")
    if buffer.getLengthInBits() + 4 <= capacity:
        buffer.put(0, 4)
    while buffer.getLengthInBits() % 8:
        buffer.putBit(False)
    pads = (QRCode.PAD0, QRCode.PAD1)
    pad = 0
    while buffer.getLengthInBits() < capacity:
        buffer.put(pads[pad], 8)  # 0xEC, 0x11, 0xEC, ... from the first pad byte
        pad ^= 1
    offset = 0
    data_blocks: list[list[int]] = []
    ec_blocks: list[list[int]] = []
    for block in blocks:
        chunk = list(buffer.buffer[offset : offset + block.dataCount])
        offset += block.dataCount
        data_blocks.append(chunk)
        ec_blocks.append(_rs_remainder(chunk, block.totalCount - block.dataCount))
    out: list[int] = []
    for group in (data_blocks, ec_blocks):
        for i in range(max(len(b) for b in group)):
            out.extend(b[i] for b in group if i < len(b))
    return out


@functools.lru_cache(maxsize=64)
def _rs_generator_logs(count: int) -> tuple[int, ...]:
    """log α of the coefficients after the leading 1 of prod(x + α^i, i < count)."""
    from reportlab.graphics.barcode.qrencoder import EXP_TABLE, LOG_TABLE

    poly = [1]
    for i in range(count):
        nxt = [*poly, 0]
        for j, coef in enumerate(poly):
            if coef:
                nxt[j + 1] ^= EXP_TABLE[(LOG_TABLE[coef] + i) % 255]
        poly = nxt
    return tuple(LOG_TABLE[c] for c in poly[1:])


def _rs_remainder(data: list[int], count: int) -> list[int]:
    from reportlab.graphics.barcode.qrencoder import EXP_TABLE, LOG_TABLE

    logs = _rs_generator_logs(count)
    remainder = [0] * count
    for byte in data:
        factor = byte ^ remainder[0]
        remainder = remainder[1:]
        remainder.append(0)
        if factor:
            base = LOG_TABLE[factor]
            for i, log in enumerate(logs):
                remainder[i] ^= EXP_TABLE[(base + log) % 255]
    return remainder


@functools.lru_cache(maxsize=8)
def _data_positions(version: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the data modules, in placement order (they depend on the version)."""
    from reportlab.graphics.barcode.qrencoder import QRCode, QRErrorCorrectLevel

    code = QRCode(version, QRErrorCorrectLevel.M)
    code.moduleCount = version * 4 + 17
    positions = list(code.dataPosIterator())
    cols = np.fromiter((c for c, _r in positions), dtype=np.intp, count=len(positions))
    rows = np.fromiter((r for _c, r in positions), dtype=np.intp, count=len(positions))
    rows.flags.writeable = cols.flags.writeable = False
    return rows, cols


@functools.lru_cache(maxsize=8)
def _mask_grids(n: int) -> np.ndarray:
    """The eight mask patterns over an n × n symbol (True: flip the data module)."""
    from reportlab.graphics.barcode.qrencoder import QRUtil

    grids = np.empty((8, n, n), dtype=bool)
    for k in range(8):
        mask = QRUtil.getMask(k)
        grids[k] = [[bool(mask(r, c)) for c in range(n)] for r in range(n)]
    grids.flags.writeable = False
    return grids


def _penalties(m: np.ndarray) -> np.ndarray:
    """ISO/IEC 18004 mask penalties N1–N4 of each symbol in ``m`` (masks × n × n)."""
    both = np.concatenate([m, m.transpose(0, 2, 1)], axis=1)  # rows, then columns as rows
    k, rows, n = both.shape
    # N1: 3 + (length - 5) for each run of five or more modules of one colour.
    change = np.ones((k, rows, n + 1), dtype=bool)
    change[:, :, 1:n] = both[:, :, 1:] != both[:, :, :-1]
    which, row, col = np.nonzero(change)
    same = (which[1:] == which[:-1]) & (row[1:] == row[:-1])
    lengths = np.diff(col)[same]
    n1 = np.bincount(which[:-1][same], weights=np.where(lengths >= 5, lengths - 2, 0), minlength=k)
    # N2: 3 for each 2×2 block of one colour.
    top, right = m[:, :-1, :-1], m[:, :-1, 1:]
    block = (top == right) & (top == m[:, 1:, :-1]) & (top == m[:, 1:, 1:])
    n2 = 3 * block.sum(axis=(1, 2))
    # N3: 40 for each 1:1:3:1:1 finder-like pattern with four light modules on a side.
    padded = np.zeros((k, rows, n + 8), dtype=bool)
    padded[:, :, 4 : 4 + n] = both
    n3 = np.zeros(k)
    for pattern in (
        (1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0),
        (0, 0, 0, 0, 1, 0, 1, 1, 1, 0, 1),
    ):
        hit = np.ones((k, rows, n + 8 - 10), dtype=bool)
        for j, dark in enumerate(pattern):
            hit &= padded[:, :, j : j + n + 8 - 10] == bool(dark)
        n3 += 40 * hit.sum(axis=(1, 2))
    # N4: 10 for each 5 % the share of dark modules strays from half.
    dark = m.mean(axis=(1, 2)) * 100
    n4 = 10 * np.floor(np.abs(dark - 50) / 5)
    return n1 + n2 + n3 + n4


def _draw_qr(canvas: Any, text: str, *, x: float, y: float, size: float) -> None:
    """The QR code of ``text`` in a ``size`` square at (x, y), quiet zone included."""
    modules = qr_modules(text)
    count = len(modules)
    unit = size / (count + 8)  # four modules of quiet zone on each side
    ops = []
    for r, row in enumerate(modules):
        c = 0
        while c < count:
            if row[c]:
                start = c
                while c < count and row[c]:
                    c += 1
                ops.append(f"{start} {r} {c - start} 1 re")
            c += 1
    canvas.saveState()
    # In module units from the top left corner, so each dark run is a short whole-number
    # rectangle ("x y w h re"); reportlab would format every coordinate as a float in Python.
    canvas.translate(x + 4 * unit, y + size - 4 * unit)
    canvas.scale(unit, -unit)
    canvas.setFillColorRGB(0, 0, 0)
    canvas.addLiteral("\n".join([*ops, "f"]))
    canvas.restoreState()
