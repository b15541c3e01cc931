"""Deny by default (docs/SECURITY-BAR.md §6): every URL needs a login unless its view is marked
public."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse


def public(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view as reachable without logging in."""
    view.minqing_public = True  # type: ignore[attr-defined]
    return view


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
        target = getattr(view_func, "view_class", view_func)
        if getattr(view_func, "minqing_public", False) or getattr(target, "minqing_public", False):
            return None
        if request.path.startswith(f"/{settings.STATIC_URL.strip('/')}/"):
            return None
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": "Authentication required."}, status=401)
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
                return JsonResponse({"detail": "Password expired: change it first."}, status=403)
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
                    return JsonResponse({"detail": "Session expired."}, status=401)
                return redirect_to_login(request.get_full_path())
        return self.get_response(request)
