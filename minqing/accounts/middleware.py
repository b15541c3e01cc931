"""The accounts' walls, in the order settings.MIDDLEWARE runs them: the absolute session
lifetime; deny by default (docs/SECURITY-BAR.md §6: every URL needs a login unless its view is
marked ``public``, minqing.lib.access); the second factor (docs/SECURITY-BAR.md §5: password alone
reaches no protected view); the password's expiry (changed after the code)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils.http import urlencode

from minqing.accounts.errors import AccountErrorCode
from minqing.accounts.models import User
from minqing.accounts.services import otp as services_otp
from minqing.lib.access import is_public
from minqing.lib.errors import ErrorCode


class AuthedRequest(HttpRequest):
    """A request past ``LoginRequiredMiddleware``: every page and API operation but the public
    ones needs a signed-in account, so ``user`` is a ``User`` (the type views declare)."""

    user: User


class LoginRequiredMiddleware:
    """Send anonymous users to the login page (JSON 401 for the API) unless the view is public."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        if request.user.is_authenticated:
            return None
        if is_public(view_func):
            return None
        if request.path.startswith(f"/{settings.STATIC_URL.strip('/')}/"):
            return None
        if request.path.startswith("/api/"):
            return JsonResponse(
                {"detail": "Authentication required.", "code": ErrorCode.UNAUTHENTICATED},
                status=401,
            )
        return redirect_to_login(request.get_full_path())


class PasswordExpiryMiddleware:
    """After ``MINQING_PASSWORD_EXPIRY_DAYS`` (等保 rotation; 0 turns it off) every page but the
    password change and logout sends the user to change their password."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and user.password_expired(settings.MINQING_PASSWORD_EXPIRY_DAYS)
            and request.path
            not in {reverse("accounts:password_change"), reverse("accounts:logout")}
            and not request.path.startswith(f"/{settings.STATIC_URL.strip('/')}/")
        ):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {
                        "detail": "Password expired: change it first.",
                        "code": AccountErrorCode.PASSWORD_EXPIRED,
                    },
                    status=403,
                )
            return redirect("accounts:password_change")
        return self.get_response(request)


class SessionLifetimeMiddleware:
    """Absolute session lifetime (docs/SECURITY-BAR.md §4): 12 hours after login, whatever the
    activity.

    The idle timeout is the session cookie's own age, renewed on every request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = int(time.time())
            started = request.session.setdefault("minqing_login_at", now)
            if now - int(started) > settings.MINQING_SESSION_MAX_AGE:
                logout(request)
                if request.path.startswith("/api/"):
                    return JsonResponse(
                        {"detail": "Session expired.", "code": ErrorCode.UNAUTHENTICATED},
                        status=401,
                    )
                return redirect_to_login(request.get_full_path())
        return self.get_response(request)


# ------------------------------------------------------------------ the second factor
# The second-factor wall (docs/SECURITY-BAR.md §5): password alone reaches no protected view.
#
# A session whose user needs the second factor (``services_otp``) and has not entered a code
# reaches only the views marked ``otp_exempt`` (enrol, verify), logout and the public pages; every
# other page sends it to the code page, and the JSON API answers 403. Bearer tokens are not
# stopped here: a token is issued from a page behind this wall or by the server's operator.
#
# It sits before ``PasswordExpiryMiddleware``, so an expired password is changed after the code.


def otp_exempt(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view as reachable before the second factor (the enrol and verify pages)."""
    view.minqing_otp_exempt = True  # type: ignore[attr-defined]
    return view


def _open_before_second_factor(request: HttpRequest) -> bool:
    if request.path.startswith(f"/{settings.STATIC_URL.strip('/')}/"):
        return True
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return True  # a 404 shows nothing
    func = match.func
    target = getattr(func, "view_class", func)
    return any(
        getattr(obj, attr, False)
        for obj in (func, target)
        for attr in ("minqing_otp_exempt", "minqing_public")
    )


class SecondFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and services_otp.session_state(request) == services_otp.PENDING
            and not _open_before_second_factor(request)
        ):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {
                        "detail": "Second factor required: enter the code on the web page first.",
                        "code": AccountErrorCode.OTP_REQUIRED,
                    },
                    status=403,
                )
            target = reverse("accounts:otp_verify")
            if request.method == "GET":
                target += "?" + urlencode({"next": request.get_full_path()})
            return redirect(target)
        return self.get_response(request)
