"""The login form, with the lockout check before the password is even tried."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from minqing.accounts.services import LOCKOUT_PERIOD, is_locked_out


class LoginForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": _("Too many failed attempts. This account is locked for %(minutes)d minutes."),
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if username and is_locked_out(username):
            self.locked = True
            raise ValidationError(
                self.error_messages["locked"],
                code="locked",
                params={"minutes": LOCKOUT_PERIOD.seconds // 60},
            )
        return super().clean()
