"""The append-only, hash-chained audit trail (SECURITY.md 13–14)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """审计记录 — one security-relevant action, chained to the one before by its hash.

    Rows are never updated or deleted (database triggers refuse it); ``minqing verify_audit``
    recomputes the chain and names the first row that does not match.
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
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["id"]
        default_permissions = ()
        indexes = [models.Index(fields=["username", "action", "at"], name="audit_user_action_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.action}"


class AuditHead(models.Model):
    """The single row holding the chain's last hash; locked to serialise appends."""

    last_hash = models.CharField(max_length=64)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return self.last_hash
