from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkdaysConfig(AppConfig):
    name = "minqing.workdays"
    verbose_name = _("Working-day calendar")
