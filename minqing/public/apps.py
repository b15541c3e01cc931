from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PublicConfig(AppConfig):
    name = "minqing.public"
    verbose_name = _("Public pages")

    def ready(self) -> None:
        from minqing.public import errors  # noqa: F401  (registers the app's error codes)
