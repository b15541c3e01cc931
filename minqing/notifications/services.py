"""Sending notifications: in-app rows in the caller's transaction, channels after the commit."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from minqing.lib.worker import enqueue
from minqing.notifications.channels import Channel
from minqing.notifications.models import Notification

logger = logging.getLogger("minqing.notifications")

DELIVER = "minqing.notifications.services.deliver"
#: Notifications per delivery job.
DELIVERY_CHUNK = 500

_batch: ContextVar[list[int] | None] = ContextVar("notification_batch", default=None)


@contextmanager
def delivery_batch() -> Iterator[None]:
    """Deliver the notifications committed within the block as a few jobs at its end, not one
    job per transaction (the deadline sweep commits once per issue)."""
    ids: list[int] = []
    token = _batch.set(ids)
    try:
        yield
    finally:
        _batch.reset(token)
        for start in range(0, len(ids), DELIVERY_CHUNK):
            enqueue(DELIVER, notification_ids=ids[start : start + DELIVERY_CHUNK])


def _fit(field: str, value: str) -> str:
    """Cut a display text to its column (a long title must not fail the caller's action)."""
    column = Notification._meta.get_field(field)
    limit = getattr(column, "max_length", None) or len(value)
    return value if len(value) <= limit else value[: limit - 1] + "…"


@dataclass
class Notice:
    """One message to some people: one in-app notification per recipient."""

    recipients: Iterable[Any]
    kind: str
    title: str
    body: str = ""
    link: str = ""
    obj: models.Model | None = None

    def rows(self, now: Any) -> list[Notification]:
        users = {user.pk: user for user in self.recipients if user is not None}
        obj = self.obj
        return [
            Notification(
                recipient=user,
                kind=self.kind,
                title=_fit("title", str(self.title)),
                body=_fit("body", str(self.body)),
                link=self.link,
                object_type=obj._meta.label_lower if obj is not None else "",
                object_id=str(obj.pk) if obj is not None else "",
                created_at=now,
            )
            for user in users.values()
        ]


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
    return notify_many([Notice(recipients, kind, title, body, link, obj)])


def notify_many(notices: Iterable[Notice]) -> list[Notification]:
    """``notify`` for many messages at once: one INSERT for all their rows."""
    now = timezone.now()
    rows = [row for notice in notices for row in notice.rows(now)]
    if not rows:
        return []
    rows = Notification.objects.bulk_create(rows, batch_size=1000)
    ids = [n.pk for n in rows]
    batch = _batch.get()
    if batch is None:
        for start in range(0, len(ids), DELIVERY_CHUNK):
            enqueue(DELIVER, notification_ids=ids[start : start + DELIVERY_CHUNK])
    else:
        transaction.on_commit(lambda: batch.extend(ids))
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
