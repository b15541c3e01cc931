"""Security headers Django 5.2 does not set itself (docs/SECURITY-BAR.md §16).

Every answer the server builds is ``Cache-Control: no-store`` (pages, API answers, exports,
photos): they may hold personal data, and neither a proxy nor a shared office computer's disk
cache may keep them after logout. Static files (served by WhiteNoise, which marks them
``public``) and other answers a view explicitly marks ``public`` stay cacheable.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

#: Everything comes from this server: no CDN, no inline script (intranet-ready and XSS-hard).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; object-src 'none'"
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault(
            "Permissions-Policy", "geolocation=(self), camera=(self), microphone=()"
        )
        if not _cacheable(request, response):
            response.headers["Cache-Control"] = "no-store"
        return response


def _cacheable(request: HttpRequest, response: HttpResponse) -> bool:
    """Static files and answers marked public; nothing else (personal data, docs/SECURITY-BAR.md
    §10)."""
    if request.path.startswith("/" + settings.STATIC_URL.lstrip("/")):
        return True
    directives = {d.strip().lower() for d in response.headers.get("Cache-Control", "").split(",")}
    return "public" in directives
