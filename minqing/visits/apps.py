from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VisitsConfig(AppConfig):
    name = "minqing.visits"
    verbose_name = _("Visit diary")
