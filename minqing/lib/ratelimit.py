"""Rate limits (docs/SECURITY-BAR.md §16), counted in Django's cache.

Every limit has a name and reads ``settings.MINQING_RATE_LIMITS[name]``: ``(count, seconds)``,
at most ``count`` hits per fixed window of ``seconds``. The counters live in the ``default``
cache, so all processes share them: Redis when ``MINQING_REDIS_URL`` is set (several servers),
else a file cache in the data dir (the gunicorn workers of one server).

Windows are fixed and named by their start (``time.time() // seconds``), so a counter never has
to be reset and a test can move the clock past a window on any backend. At a window's edge a
client may get up to twice ``count`` in ``seconds``; the limits are set with that in mind.

Two ways to use a limit:

- ``consume(name, who)`` counts a hit and raises ``RateLimited`` past the limit (search,
  exports, cards: every request counts);
- ``check(name, who)`` raises without counting, and ``hit(name, who)`` counts after the fact
  (login failures: only failures count, but a limited address is refused before its password
  is even tried).

``who`` is a user (counted per account), an ``AuditContext`` or a request (per client address)
or any string.
``first_in(name, who, seconds)`` is true once per period: audit a flood's first event, not all.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import ngettext

from minqing.lib.context import AuditContext, client_ip
from minqing.lib.errors import ErrorCode

#: Defaults; ``MINQING_RATE_LIMITS`` in settings (and the environment) overrides per name.
DEFAULT_LIMITS: dict[str, tuple[int, int]] = {
    # Failed logins per client address (web form, API token issue, OTP) — beside the lockout
    # of an account after 5 failures.
    "login.address": (20, 15 * 60),
    # Attempts at one account while it is locked or failing: bounds the audit rows a
    # distributed guesser can write for one name.
    "login.username": (10, 15 * 60),
    # Token issue requests per client address (each one tries a password).
    "api_token.issue": (10, 15 * 60),
    # Failed bearer tokens per client address.
    "bearer.address": (20, 15 * 60),
    # Searches per user (household search page and API, issue search).
    "search": (60, 60),
    # Masked exports per user (household ledger, contact ledger xlsx, audit log CSV).
    "export": (20, 60 * 60),
    # Unmasked exports per user: each one is a disclosure of a village's personal data.
    "export.unmasked": (5, 60 * 60),
    # Contact card PDFs per user (they print the liaisons' phones).
    "cards": (20, 60 * 60),
    # Public submissions per client address (MINQING_PUBLIC_SUBMIT_LIMIT/WINDOW also set it).
    "public.submit": (5, 10 * 60),
}


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    seconds: int


class RateLimited(Exception):
    """Over a limit: nothing was done. ``message`` is for the person (Chinese in the UI)."""

    status = 429

    def __init__(self, limit: Limit, retry_after: int) -> None:
        self.limit = limit
        self.retry_after = max(1, retry_after)
        minutes = max(1, -(-self.retry_after // 60))
        self.message = ngettext(
            "Too many requests. Please wait %(minutes)d minute and try again.",
            "Too many requests. Please wait %(minutes)d minutes and try again.",
            minutes,
        ) % {"minutes": minutes}
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


#: Older settings that still set a limit (they win over ``MINQING_RATE_LIMITS``).
_OWN_SETTINGS = {"public.submit": ("MINQING_PUBLIC_SUBMIT_LIMIT", "MINQING_PUBLIC_SUBMIT_WINDOW")}


def limit(name: str) -> Limit:
    """The limit called ``name``, as configured now."""
    configured = getattr(settings, "MINQING_RATE_LIMITS", {}) or {}
    count, seconds = configured.get(name) or DEFAULT_LIMITS[name]
    if name in _OWN_SETTINGS:
        count_setting, seconds_setting = _OWN_SETTINGS[name]
        count = getattr(settings, count_setting, count)
        seconds = getattr(settings, seconds_setting, seconds)
    return Limit(name, int(count), int(seconds))


def client_address(request: Any) -> str:
    """The address a request came from (what the audit trail records as its IP)."""
    return client_ip(request) or "unknown"


def _who(who: Any) -> str | None:
    """The counter's subject; None (no limit) for the command line and other non-users."""
    if isinstance(who, str):
        return who
    if isinstance(who, AuditContext) or hasattr(who, "META"):  # per client address
        return "ip:" + client_address(who)
    if getattr(who, "pk", None) is not None:  # a user
        return f"user:{who.pk}"
    return None


def _key(lim: Limit, who: Any, window: int) -> str:
    return f"minqing:rl:{lim.name}:{lim.seconds}:{_subject(who)}:{window}"


def _subject(who: Any) -> str:
    # The subject may be a name typed at the login: hashed, so any text makes a valid key.
    return hashlib.sha256(str(_who(who)).encode()).hexdigest()[:32]


def _window(lim: Limit) -> tuple[int, int]:
    """The current window's number and the seconds left in it."""
    now = time.time()
    window = int(now // lim.seconds)
    return window, max(1, math.ceil((window + 1) * lim.seconds - now))


def count(name: str, who: Any) -> int:
    """Hits counted for ``who`` in the current window."""
    lim = limit(name)
    window, _left = _window(lim)
    return int(cache.get(_key(lim, who, window), 0))


def hit(name: str, who: Any, amount: int = 1) -> int:
    """Count ``amount`` hits for ``who``; returns the window's total so far."""
    lim = limit(name)
    window, left = _window(lim)
    key = _key(lim, who, window)
    cache.add(key, 0, left + 5)
    try:
        return int(cache.incr(key, amount))
    except ValueError:  # expired between add and incr
        cache.set(key, amount, left + 5)
        return amount


def check(name: str, who: Any) -> None:
    """Raise ``RateLimited`` if ``who`` has used up the limit (counts nothing)."""
    lim = limit(name)
    window, left = _window(lim)
    if int(cache.get(_key(lim, who, window), 0)) >= lim.count:
        raise RateLimited(lim, left)


def consume(
    name: str, who: Any, *, context: AuditContext | None = None, audit: bool = False
) -> None:
    """Count one hit; raise ``RateLimited`` if it is past the limit.

    With ``audit`` the limit's trip writes one ``rate_limited`` audit row per window (unmasked
    exports, contact cards: a refused disclosure is itself worth recording).
    """
    if _who(who) is None:
        return
    lim = limit(name)
    used = hit(name, who)
    if used > lim.count:
        exc = RateLimited(lim, _window(lim)[1])
        if audit and first_in(f"audit:{name}", who, lim.seconds):
            user = who if getattr(who, "pk", None) is not None else None
            for hook in _TRIP_HOOKS:
                hook(name=name, limit=lim, user=user, context=context)
        raise exc


#: Called once per window when a limit consumed with ``audit=True`` trips (the audit app
#: registers the one that writes the ``rate_limited`` row: the library imports no app).
TripHook = Callable[..., None]
_TRIP_HOOKS: list[TripHook] = []


def on_trip(hook: TripHook) -> TripHook:
    """Register ``hook(name=, limit=, user=, context=)`` for the trips of audited limits."""
    if hook not in _TRIP_HOOKS:
        _TRIP_HOOKS.append(hook)
    return hook


def exceeded(name: str, who: Any) -> bool:
    try:
        check(name, who)
    except RateLimited:
        return True
    return False


def first_in(name: str, who: Any, seconds: int) -> bool:
    """True the first time it is asked for (name, who) in a period of ``seconds``."""
    now = int(time.time() // seconds)
    return bool(
        cache.add(f"minqing:rl-once:{name}:{_subject(who)}:{seconds}:{now}", 1, seconds + 5)
    )


class RateLimitMiddleware:
    """A ``RateLimited`` raised anywhere in a page's view answers 429: the message, and the
    request's input kept — a GET's query in the top search field and a "try again" link, a
    POST's fields in a form to send again (the API answers JSON through its own handler)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, RateLimited):
            return None
        return refused_response(request, exception)


def refused_response(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    """The 429 answer for ``exc`` (JSON under /api/, else the page)."""
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {"detail": exc.message, "code": ErrorCode.RATE_LIMITED}, status=429
        )
    else:
        fields = (
            [
                (key, value)
                for key, values in request.POST.lists()
                if key != "csrfmiddlewaretoken"
                for value in values
            ]
            if request.method == "POST"
            else []
        )
        response = render(
            request,
            "429.html",
            {
                "message": exc.message,
                "fields": fields,
                "search_query": request.GET.get("q", "") or request.POST.get("q", ""),
                "again": request.get_full_path(),
                "method": request.method,
                "error_page": True,
            },
            status=429,
        )
    response["Retry-After"] = str(exc.retry_after)
    return response
