from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrgConfig(AppConfig):
    name = "minqing.org"
    label = "org"
    verbose_name = _("Organisation tree")

    def ready(self) -> None:
        from minqing.org import errors  # noqa: F401  (registers the app's error codes)
