from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkdaysConfig(AppConfig):
    name = "minqing.workdays"
    verbose_name = _("Working-day calendar")

    def ready(self) -> None:
        from minqing.workdays import errors  # noqa: F401  (registers the app's error codes)
