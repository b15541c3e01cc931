"""A request that meets a database too busy to write answers 503 "busy, try again", never 500.

The goal is that none does: SQLite writers wait for each other (``busy_timeout``, transactions
begun IMMEDIATE) and long writers such as a ledger import write in short batches. Should a
request still wait past the timeout (``OperationalError: database is locked``), or meet a lock
timeout or deadlock on PostgreSQL, the user is told the server is busy and nothing was saved —
in their language, as a page or, under ``/api/``, as the API's JSON — with ``Retry-After``. The
phone's outbox treats the 503 like any server error: the record stays and is tried again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils.translation import gettext as _

log = logging.getLogger(__name__)

#: Seconds a client is asked to wait before trying again.
RETRY_AFTER_S = 5
#: What the drivers say when a write waited for a lock in vain (SQLite; PostgreSQL's
#: lock_timeout, deadlock and serialization failures carry SQLSTATE 55P03 / 40P01 / 40001).
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")
_PG_BUSY_STATES = frozenset({"55P03", "40P01", "40001"})


def is_busy(exc: BaseException | None) -> bool:
    """Is ``exc`` (or what it was raised from) "the database was too busy to write"?"""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, OperationalError) or type(exc).__name__ in (
            "OperationalError",
            "LockNotAvailable",
            "DeadlockDetected",
            "SerializationFailure",
        ):
            text = str(exc).lower()
            if any(word in text for word in _SQLITE_BUSY):
                return True
            if getattr(exc, "sqlstate", None) in _PG_BUSY_STATES:
                return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def busy_response(request: HttpRequest) -> HttpResponse:
    message = _("The server is busy right now and nothing was saved. Please try again in a moment.")
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": message}, status=503)
    else:
        html = loader.get_template("busy.html").render({"error_page": True, "message": message})
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(RETRY_AFTER_S)
    response["Cache-Control"] = "no-store"
    return response


class BusyDatabaseMiddleware:
    """Turn "database is locked" raised by a view into the 503 page/JSON (logged as a warning:
    it means a writer held the database longer than ``busy_timeout``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_busy(exception):
            return None
        log.warning("database busy on %s %s: %s", request.method, request.path, exception)
        return busy_response(request)
