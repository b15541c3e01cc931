"""Contact cards (联系卡) on paper: what a card says, the PDF drawn from it, and what printing
needs from the server it runs on. Pure computation and configuration: nothing here reads or
writes the database (``selectors.cards`` reads the cards, ``services.cards`` prints them).

- **An embeddable CJK TrueType font.** The card's text must print on any machine, so the PDF
  carries the glyphs it uses (a subset of the font). reportlab embeds TrueType outlines only:
  the Noto CJK fonts (CFF outlines) cannot be embedded, and the CID font ``STSong-Light`` is
  never embedded (a printer without it shows boxes), so neither is a fallback. The font is
  ``MINQING_CJK_FONT`` (a setting or environment variable naming a .ttf/.ttc file), else the
  first of ``CJK_FONT_CANDIDATES`` that exists (Debian's ``fonts-wqy-microhei``). Without one,
  the card page says what to install and no PDF is made.
- **A public address residents' phones reach.** The QR code leads to ``MINQING_PUBLIC_URL``
  (else the host the cadre prints from); a loopback or ``localhost`` address is unreachable from
  a resident's phone, and the card page warns before anything is printed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import ipaddress
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.lib.qr import qr_modules

#: Looked for in this order when ``MINQING_CJK_FONT`` is not set (TrueType outlines only).
CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # Debian/Ubuntu fonts-wqy-microhei
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # fonts-wqy-zenhei
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",  # Fedora/RHEL wqy-microhei-fonts
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",  # Arch wqy-microhei
    "/usr/share/fonts/truetype/arphic/uming.ttc",  # fonts-arphic-uming
)
#: The Debian package to install when no font is found.
FONT_PACKAGE = "fonts-wqy-microhei"
#: Characters every card prints; a font lacking any of them is no use.
_PROBE = "民情联系卡有事找我们户编号您的人扫一扫右边二维码年月日制村社区办公室电话"

GREETING = "有事找我们"

_lock = threading.Lock()
_registered: dict[tuple[str, float], str] = {}


@dataclass
class CardPerson:
    """One responsible person on a card."""

    kind: str
    word: str
    name: str
    phone: str


@dataclass
class Card:
    """What one household's card says."""

    household_id: int
    village: str
    place: str
    number: str
    head_name: str
    url: str
    people: list[CardPerson] = field(default_factory=list)
    office_phone: str = ""  # 村（社区）办公室电话, when the village archive has one


class CardFontMissing(Exception):
    """No CJK TrueType font to embed; ``str(exc)`` says (in the reader's language) what to do."""


@dataclass(frozen=True)
class FontChoice:
    path: str
    configured: bool  # named by MINQING_CJK_FONT rather than found


def configured_font() -> str:
    return str(getattr(settings, "MINQING_CJK_FONT", "") or os.environ.get("MINQING_CJK_FONT", ""))


def font_choice() -> FontChoice | None:
    """The font file to use: the configured one (even if it is missing: then the page says so),
    else the first candidate that exists, else None."""
    if configured := configured_font():
        return FontChoice(configured, True)
    for candidate in CJK_FONT_CANDIDATES:
        if Path(candidate).is_file():
            return FontChoice(candidate, False)
    return None


def card_font() -> str:
    """The registered reportlab name of the card font; raises ``CardFontMissing``.

    Each file is parsed and registered once per process (a 5 MB .ttc takes ~0.3 s); the PDF
    embeds only the glyphs a document uses.
    """
    choice = font_choice()
    if choice is None:
        raise CardFontMissing(
            _(
                "No Chinese font that can be embedded in a PDF was found on the server, so the "
                "contact cards and the paper forms cannot be printed. Ask the administrator to "
                "install the package "
                "%(package)s (apt-get install %(package)s) or to set MINQING_CJK_FONT to a "
                "TrueType font file (.ttf or .ttc), then restart the server."
            )
            % {"package": FONT_PACKAGE}
        )
    path = Path(choice.path)
    try:
        key = (str(path.resolve()), path.stat().st_mtime)
    except OSError:
        raise CardFontMissing(
            _(
                "MINQING_CJK_FONT names %(path)s, which does not exist or cannot be read. Point "
                "it at a TrueType font file (.ttf or .ttc) or install %(package)s."
            )
            % {"path": choice.path, "package": FONT_PACKAGE}
        ) from None
    with _lock:
        if key in _registered:
            return _registered[key]
        name = _register(path, choice)
        _registered[key] = name
        return name


def _register(path: Path, choice: FontChoice) -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    name = "MinqingCJK-" + hashlib.sha256(str(path).encode()).hexdigest()[:8]
    try:
        # In a collection (.ttc) the first face is the regular one (WenQuanYi Micro Hei).
        font = TTFont(name, str(path), subfontIndex=0)
    except (TTFError, OSError, ValueError) as exc:
        raise CardFontMissing(
            _(
                "The font %(path)s cannot be embedded in a PDF (%(reason)s). Use a TrueType "
                "font (.ttf or .ttc with TrueType outlines, such as %(package)s); OpenType CFF "
                "fonts such as Noto Sans CJK cannot be embedded."
            )
            % {"path": path, "reason": exc, "package": FONT_PACKAGE}
        ) from None
    lacking = [c for c in _PROBE if ord(c) not in font.face.charToGlyph]
    if lacking:
        raise CardFontMissing(
            _("The font %(path)s has no Chinese characters (it lacks %(chars)s).")
            % {"path": path, "chars": "".join(lacking[:6])}
        )
    pdfmetrics.registerFont(font)
    return name


# --------------------------------------------------------------------------- the public address


def public_base_url(request: object | None = None) -> str:
    """Where the cards' QR codes lead: ``MINQING_PUBLIC_URL``, else the request's own host."""
    configured = str(
        getattr(settings, "MINQING_PUBLIC_URL", "") or os.environ.get("MINQING_PUBLIC_URL", "")
    )
    if configured:
        return configured
    if request is not None:
        return request.build_absolute_uri("/")  # type: ignore[attr-defined]
    return ""


def unreachable_host(base_url: str) -> str | None:
    """The host of ``base_url`` when residents' phones cannot reach it (a loopback address,
    ``localhost``, an unspecified address, or no host at all); None for a usable address."""
    host = (urlsplit(base_url).hostname or "").strip().lower().rstrip(".")
    if not host:
        return base_url or "(unset)"
    if host == "localhost" or host.endswith(".localhost"):
        return host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if address.is_loopback or address.is_unspecified:
        return host
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None and (mapped.is_loopback or mapped.is_unspecified):
        return host
    return None


# --------------------------------------------------------------------------- the PDF


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


def _draw_card(canvas: Any, card: Card, font: str, today: dt.date) -> None:
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
