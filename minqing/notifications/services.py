"""Sending notifications: in-app rows in the caller's transaction, channels after the commit."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.module_loading import import_string

from minqing.lib.worker import enqueue
from minqing.notifications.channels import Channel
from minqing.notifications.models import Notification

logger = logging.getLogger("minqing.notifications")

DELIVER = "minqing.notifications.services.deliver"


def _fit(field: str, value: str) -> str:
    """Cut a display text to its column (a long title must not fail the caller's action)."""
    limit = Notification._meta.get_field(field).max_length
    return value if len(value) <= limit else value[: limit - 1] + "…"


def notify(
    *,
    recipients: Iterable[Any],
    kind: str,
    title: str,
    body: str = "",
    link: str = "",
    obj: models.Model | None = None,
) -> list[Notification]:
    """Write one in-app notification per recipient (duplicates once) in the caller's
    transaction; after it commits, the channels deliver them in the background. Nothing is
    delivered when the transaction rolls back."""
    users = {user.pk: user for user in recipients if user is not None}
    if not users:
        return []
    now = timezone.now()
    object_type = obj._meta.label_lower if obj is not None else ""
    object_id = str(obj.pk) if obj is not None else ""
    rows = Notification.objects.bulk_create(
        Notification(
            recipient=user,
            kind=kind,
            title=_fit("title", str(title)),
            body=_fit("body", str(body)),
            link=link,
            object_type=object_type,
            object_id=object_id,
            created_at=now,
        )
        for user in users.values()
    )
    enqueue(DELIVER, notification_ids=[n.pk for n in rows])
    return rows


def channels() -> list[Channel]:
    """The configured channels; one that cannot be loaded is logged and left out."""
    loaded = []
    for path in getattr(settings, "MINQING_NOTIFY_CHANNELS", []):
        try:
            loaded.append(import_string(path)())
        except Exception:
            logger.exception("notification channel %s cannot be loaded", path)
    return loaded


def deliver(*, notification_ids: list[int]) -> dict[str, int]:
    """Send the notifications through every channel (run by the worker after the commit).

    A channel that fails is logged and skips only that message; the others go on. Users whose
    account is disabled get the in-app row only.
    """
    notes = list(
        Notification.objects.filter(pk__in=notification_ids, recipient__is_active=True)
        .select_related("recipient")
        .order_by("pk")
    )
    sent = failed = 0
    for channel in channels():
        for note in notes:
            try:
                channel.send(note, note.recipient)
            except Exception:
                failed += 1
                logger.exception(
                    "notification %s: channel %s failed", note.pk, type(channel).__name__
                )
            else:
                sent += 1
    return {"notifications": len(notes), "sent": sent, "failed": failed}


def notification_mark_read(*, user: Any, ids: Iterable[int] | None = None) -> int:
    """Mark the user's unread notifications read (those of ``ids`` only, when given); another
    user's ids are ignored. Returns how many changed."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    return unread.update(read_at=timezone.now())
