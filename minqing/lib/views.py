"""Views that belong to no domain app: health, the favicon and the error pages."""

import sys
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.http import require_GET

from minqing.lib.access import public
from minqing.lib.busy import busy_response, is_busy

FAVICON = Path(settings.BASE_DIR) / "static" / "minqing" / "favicon.ico"


@public
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@public
@require_GET
def favicon(request: HttpRequest) -> FileResponse:
    """/favicon.ico for browsers and tools that ask for it without reading the page's link."""
    response = FileResponse(FAVICON.open("rb"), content_type="image/x-icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response


def forbidden(request: HttpRequest, reason: object) -> HttpResponse:
    """403 that says why (the user is in scope but their role may not do this)."""
    return render(request, "forbidden.html", {"reason": str(reason)}, status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: the page in the reader's language with the site's navigation. Out-of-scope
    records answer this too, so it says nothing about why, and it reads the same for every
    address (no CSRF token, no "next" path: docs/SECURITY-BAR.md §6). (Under /api/ the site's
    handler, minqing.urls, answers JSON instead.)"""
    return render(request, "404.html", {"error_page": True}, status=404)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler403 (``PermissionDenied`` raised anywhere): the message the exception carries."""
    reason = str(exception) if exception is not None and str(exception) else ""
    return render(request, "403.html", {"reason": reason, "error_page": True}, status=403)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: rendered without the request, so no context processor, session or user is
    read — the database may be what failed. Logged-out navigation only. A database too busy
    to write (raised outside a view, e.g. saving the session) is the 503 "busy" answer.
    (Under /api/ the site's handler, minqing.urls, answers JSON unless the database is busy.)"""
    if is_busy(sys.exc_info()[1]):
        return busy_response(request)
    html = loader.get_template("500.html").render({"error_page": True})
    return HttpResponse(html, status=500)
