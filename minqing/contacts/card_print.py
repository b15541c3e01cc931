"""What printing contact cards (联系卡) needs from the server it runs on.

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

import hashlib
import ipaddress
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

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

_lock = threading.Lock()
_registered: dict[tuple[str, float], str] = {}


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
                "cards cannot be printed. Ask the administrator to install the package "
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
