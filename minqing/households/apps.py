from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HouseholdsConfig(AppConfig):
    name = "minqing.households"
    label = "households"
    verbose_name = _("Household archives")

    def ready(self) -> None:
        from minqing.households import errors  # noqa: F401  (registers the app's error codes)
