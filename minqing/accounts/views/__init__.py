"""The accounts' pages: ``auth`` (login, logout, password), ``otp`` (the second factor),
``tokens`` (API tokens), ``admin`` (the security administrator's account pages)."""

from __future__ import annotations

from django.http import HttpRequest

from minqing.accounts.models import User


class AuthedRequest(HttpRequest):
    """A request past the login wall (``LoginRequiredMiddleware``): ``user`` is an account."""

    user: User
