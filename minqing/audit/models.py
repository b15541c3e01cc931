"""The append-only, keyed and sealed audit trail (docs/SECURITY-BAR.md §13–14)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from minqing.lib.fields import RowsJSONField


class AuditEvent(models.Model):
    """审计记录 — one security-relevant action, signed (HMAC) as it is written.

    Rows are never updated or deleted (database triggers refuse it; on PostgreSQL the runtime
    role may only INSERT and SELECT). Writing one takes no lock: the worker later seals the rows
    into one chain (:class:`AuditSeal`), and ``minqing verify_audit`` checks both.
    """

    at = models.DateTimeField(_("time"), db_index=True)
    user_id_value = models.BigIntegerField(_("user id"), null=True, blank=True)
    username = models.CharField(_("user"), max_length=150, blank=True)
    ip = models.CharField(_("IP address"), max_length=45, blank=True)
    action = models.CharField(_("action"), max_length=48, db_index=True)
    object_type = models.CharField(_("object type"), max_length=48, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    success = models.BooleanField(_("success"), default=True)
    detail = RowsJSONField(_("detail"), default=dict, blank=True)
    #: Random per row, so two identical actions in one instant still sign differently and a
    #: copied row is found by its repeated MAC.
    nonce = models.CharField(max_length=32, default="")
    key_id = models.PositiveSmallIntegerField(default=0)
    mac = models.CharField(max_length=64, unique=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["id"]
        default_permissions = ()
        indexes = [models.Index(fields=["username", "action", "at"], name="audit_user_action_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.action}"


class AuditSeal(models.Model):
    """审计封存 — one event's place in the chain: its position and a MAC over the previous
    seal's MAC and the event's own, written by the worker in one process at a time (the unique
    position refuses a second sealer). Insert-only, like the events."""

    position = models.BigIntegerField(unique=True)
    event = models.OneToOneField(AuditEvent, on_delete=models.PROTECT, related_name="seal")
    key_id = models.PositiveSmallIntegerField()
    mac = models.CharField(max_length=64)
    sealed_at = models.DateTimeField()

    class Meta:
        ordering = ["position"]
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.position}: {self.event_id}"
