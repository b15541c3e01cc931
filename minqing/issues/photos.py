"""Photos of problems (现场照片): type- and size-checked, decoded and re-encoded, sealed at rest,
one service to add.

Re-encoding is the check that the bytes are the picture they claim to be (magic bytes alone
pass any file that starts with them), and it drops everything but the pixels: EXIF with the
phone's GPS position, comments, ICC profiles. The camera's orientation is applied first, so
nothing turns sideways. Decoding is bounded: at most ``MINQING_PHOTO_MAX_PIXELS`` (checked
from the header, before a pixel is decoded), and a JPEG larger than ``MAX_SIDE`` is decoded
at a reduced scale straight away.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from minqing.accounts.models import User
from minqing.issues import actions
from minqing.issues.errors import IssueErrorCode, field_error
from minqing.issues.models import EventAction, Issue, IssuePhoto
from minqing.issues.services.common import record
from minqing.lib.context import AuditContext
from minqing.lib.inputs import read_upload
from minqing.lib.sealed_files import SealedStore

PHOTOS = SealedStore("photos")
MAX_PHOTOS = 9
#: Longest side kept, in pixels: enough to read a meter or a crack, a tenth of the bytes.
MAX_SIDE = 4096
#: Pillow format → (content type, suffix, save options).
FORMATS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "JPEG": ("image/jpeg", "jpg", {"quality": 85, "optimize": True}),
    "PNG": ("image/png", "png", {"optimize": True}),
    "WEBP": ("image/webp", "webp", {"quality": 85}),
}

#: Leading bytes of the image types a phone camera produces.
SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
)


def sniff(data: bytes) -> tuple[str, str] | None:
    """(content type, suffix) from the file's own bytes, never from its name or header."""
    for magic, content_type, suffix in SIGNATURES:
        if data.startswith(magic):
            return content_type, suffix
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    return None


def reencode(data: bytes) -> tuple[bytes, str, str]:
    """(clean bytes, content type, suffix): the picture decoded and saved again without its
    metadata; ``ValidationError`` if it is no picture or too many pixels."""
    from PIL import Image, ImageOps

    not_a_picture = field_error(
        "photo",
        _("The file is not a readable JPEG, PNG or WebP picture."),
        IssueErrorCode.PHOTO_UNREADABLE,
    )
    max_pixels = settings.MINQING_PHOTO_MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data), formats=list(FORMATS))
            width, height = image.size
            if width * height > max_pixels:
                message = _(
                    "The picture has %(mp).0f megapixels; photos may have at most "
                    "%(max).0f. Take it again at a lower resolution."
                ) % {"mp": width * height / 1e6, "max": max_pixels / 1e6}
                raise field_error("photo", message, IssueErrorCode.PHOTO_PIXELS)
            kind = image.format or ""
            if kind == "JPEG":
                image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # decode at 1/2, 1/4 or 1/8 scale
            image = ImageOps.exif_transpose(image) or image  # loads the pixels
            if max(image.size) > MAX_SIDE:
                image.thumbnail((MAX_SIDE, MAX_SIDE))
            if kind == "JPEG" and image.mode not in ("RGB", "L"):
                image = image.convert("RGB")
            elif image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
                image = image.convert("RGBA")
            keep = (
                {"transparency": image.info["transparency"]} if "transparency" in image.info else {}
            )
            image.info = {}  # EXIF, GPS, XMP, comments, ICC: only the pixels go on
            content_type, suffix, options = FORMATS[kind]
            out = io.BytesIO()
            image.save(out, format=kind, **options, **keep)
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise field_error(
            "photo",
            _("The picture has too many pixels to be read safely."),
            IssueErrorCode.PHOTO_PIXELS,
        ) from None
    except Exception:  # Pillow raises many types for damaged or disguised files
        raise not_a_picture from None
    return out.getvalue(), content_type, suffix


def photo_add(
    *, by: User, issue: Issue, data: Any, context: AuditContext | None = None
) -> IssuePhoto:
    """Attach a photo: JPEG, PNG or WebP, at most ``MINQING_PHOTO_MAX_BYTES`` and
    ``MINQING_PHOTO_MAX_PIXELS``, re-encoded without its metadata; audited.

    ``data`` is the bytes, or the upload itself: then its size is checked before it is read.
    """
    limit = settings.MINQING_PHOTO_MAX_BYTES
    too_large = _("Photos may be at most %(size)s.") % {"size": filesizeformat(limit)}
    if not isinstance(data, bytes):
        data = read_upload(data, limit, field="photo", message=too_large)
    if not data:
        raise field_error("photo", _("The photo is empty."), IssueErrorCode.PHOTO_EMPTY)
    if len(data) > limit:
        raise field_error("photo", too_large, IssueErrorCode.PHOTO_TOO_LARGE)
    if sniff(data) is None:
        raise field_error(
            "photo", _("Only JPEG, PNG or WebP photos can be attached."), IssueErrorCode.PHOTO_TYPE
        )
    actions.require(by, "photo", issue)
    data, content_type, suffix = reencode(data)
    stored = PHOTOS.store(data, suffix)
    try:
        with transaction.atomic():
            if issue.photos.count() >= MAX_PHOTOS:
                raise field_error(
                    "photo",
                    _("An issue holds at most %(n)d photos.") % {"n": MAX_PHOTOS},
                    IssueErrorCode.PHOTO_COUNT,
                )
            photo = IssuePhoto.objects.create(
                issue=issue,
                stored=stored,
                content_type=content_type,
                size=len(data),
                uploaded_by=by,
            )
            record(
                issue, by=by, action=EventAction.PHOTO, data={"photo": photo.pk}, context=context
            )
    except Exception:
        PHOTOS.remove(stored)  # nothing half-written: no orphan file without its row
        raise
    return photo


def photo_bytes(photo: IssuePhoto) -> bytes:
    return PHOTOS.load(photo.stored)
