from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditorConfig(AppConfig):
    """The auditor's pages: reading the trail the audit app records (三权分立)."""

    name = "minqing.auditor"
    label = "auditor"
    verbose_name = _("Audit log")
