from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContactsConfig(AppConfig):
    name = "minqing.contacts"
    verbose_name = _("Contact network")

    def ready(self) -> None:
        from minqing.contacts import (
            errors,  # noqa: F401  (registers the app's error codes)
            issues_hooks,  # noqa: F401  (liaisons hear of reported issues)
        )
