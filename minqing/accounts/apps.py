from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "minqing.accounts"
    label = "accounts"
    verbose_name = _("Accounts and roles")

    def ready(self) -> None:
        from minqing.accounts import errors  # noqa: F401  (registers the app's error codes)
        from minqing.accounts.services import otp  # noqa: F401  (connects the login receiver)
