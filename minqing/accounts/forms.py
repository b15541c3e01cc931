"""The login form: the username is normalised, and the rate limits and lockout are checked
before the password is even tried (accounts.services: one order for every login path)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from minqing.accounts.services import LoginRefused, login_guard, normalise_username


class LoginForm(AuthenticationForm):
    #: Set when the login was refused before the password was tried (already audited).
    refusal: LoginRefused | None = None

    def clean_username(self) -> str:
        # NFKC can lengthen a name (ﷺ is 18 letters): cut to what the audit trail keeps.
        return normalise_username(self.cleaned_data.get("username") or "")[:150]

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if username and self.cleaned_data.get("password"):
            try:
                login_guard(self.request, username, via="web")
            except LoginRefused as exc:
                self.refusal = exc
                raise ValidationError(exc.message, code=exc.code) from None
        return super().clean()
