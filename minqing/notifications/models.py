"""In-app notifications; other channels (SMS, WeChat …) deliver copies of the same rows."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    """通知 — one message to one user, shown in the app until read.

    The title and body are shown in lists and sent through every channel: keep personal data
    (ID numbers, phones, health) out of them and link to the page that holds it instead.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("recipient"),
    )
    kind = models.CharField(_("kind"), max_length=50)  # e.g. "issue.dispatched"
    title = models.CharField(_("title"), max_length=200)
    body = models.CharField(_("body"), max_length=500, blank=True)
    link = models.CharField(_("link"), max_length=300, blank=True)  # a path in this site
    object_type = models.CharField(_("object type"), max_length=50, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "read_at", "-created_at"], name="notification_inbox"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_read(self) -> bool:
        return self.read_at is not None
