from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MenusConfig(AppConfig):
    name = "minqing.menus"
    verbose_name = _("Quarterly menu")

    def ready(self) -> None:
        from minqing.menus import errors  # noqa: F401  (registers the app's error codes)
