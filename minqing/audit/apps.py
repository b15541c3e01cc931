from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "minqing.audit"
    label = "audit"
    verbose_name = _("Audit trail")

    def ready(self) -> None:
        from minqing.audit.roles import revoke_audit_changes
        from minqing.audit.services import record_trip
        from minqing.lib import ratelimit

        # A tripped audited limit (unmasked exports, contact cards) is itself recorded.
        ratelimit.on_trip(record_trip)

        # After every migrate: the runtime role may only INSERT and SELECT audit rows.
        post_migrate.connect(revoke_audit_changes, sender=self, dispatch_uid="audit_roles")
