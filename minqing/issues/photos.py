"""Photos of problems (现场照片): type- and size-checked, sealed at rest, one service to add."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from minqing.issues import actions
from minqing.issues.models import Issue, IssuePhoto
from minqing.issues.services.common import record
from minqing.lib.sealed_files import SealedStore

PHOTOS = SealedStore("photos")
MAX_PHOTOS = 9

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


def photo_add(*, by: Any, issue: Issue, data: bytes, request: Any = None) -> IssuePhoto:
    """Attach a photo: JPEG, PNG or WebP, at most ``MINQING_PHOTO_MAX_BYTES``; audited."""
    limit = settings.MINQING_PHOTO_MAX_BYTES
    if not data:
        raise ValidationError({"photo": _("The photo is empty.")})
    if len(data) > limit:
        raise ValidationError(
            {"photo": _("Photos may be at most %(size)s.") % {"size": filesizeformat(limit)}}
        )
    kind = sniff(data)
    if kind is None:
        raise ValidationError({"photo": _("Only JPEG, PNG or WebP photos can be attached.")})
    actions.require(by, "photo", issue)
    content_type, suffix = kind
    stored = PHOTOS.store(data, suffix)
    try:
        with transaction.atomic():
            if issue.photos.count() >= MAX_PHOTOS:
                raise ValidationError(
                    {"photo": _("An issue holds at most %(n)d photos.") % {"n": MAX_PHOTOS}}
                )
            photo = IssuePhoto.objects.create(
                issue=issue,
                stored=stored,
                content_type=content_type,
                size=len(data),
                uploaded_by=by,
            )
            record(issue, by=by, action="photo", data={"photo": photo.pk}, request=request)
    except Exception:
        PHOTOS.remove(stored)  # nothing half-written: no orphan file without its row
        raise
    return photo


def photo_bytes(photo: IssuePhoto) -> bytes:
    return PHOTOS.load(photo.stored)
