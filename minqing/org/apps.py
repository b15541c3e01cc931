from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class OrgConfig(AppConfig):
    name = "minqing.org"
    label = "org"
    verbose_name = _("Organisation tree")

    def ready(self) -> None:
        from minqing.org import errors  # noqa: F401  (registers the app's error codes)

        # The apps above org add to its pages and counts from their ``org_hooks`` module
        # (minqing.org.hooks), found here as the admin finds ``admin`` modules.
        autodiscover_modules("org_hooks")
