from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VisitsConfig(AppConfig):
    name = "minqing.visits"
    verbose_name = _("Visit diary")

    def ready(self) -> None:
        from minqing.visits import errors  # noqa: F401  (registers the app's error codes)
