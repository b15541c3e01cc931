"""Ledger pages: template download, upload → report → import, and export.

Views only read the request and call ``minqing.households.ledger``; every rule (scope, roles,
checks, audit) lives there, shared with the management commands.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any, TypeVar

from django.conf import settings
from django.contrib import messages
from django.http import (
    Http404,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from minqing.accounts.middleware import AuthedRequest
from minqing.accounts.permissions import Action, allowed
from minqing.accounts.scope import scope_for
from minqing.households.ledger.exporter import XLSX_TYPE, ledger_export, ledger_template
from minqing.households.ledger.importer import (
    IMPORT_LEVELS,
    ImportRefused,
    failure_message,
    ledger_check,
    ledger_queue,
    require_import,
)
from minqing.households.ledger.reader import LedgerFileError, check_upload
from minqing.households.models import LedgerImport
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied
from minqing.lib.views import forbidden
from minqing.org.selectors import breadcrumbs
from minqing.org.views import scoped_node

R = TypeVar("R", bound=HttpResponseBase)

#: Errors shown on the report page; all of them are in the downloadable error list.
ERRORS_ON_PAGE = 500


def _own_import(request: AuthedRequest, pk: int) -> LedgerImport:
    """The user's own import into a node still in scope; anything else is 404."""
    ledger = get_object_or_404(
        LedgerImport.objects.select_related("node"), pk=pk, user=request.user
    )
    if not scope_for(request.user).covers_path(ledger.node.path):
        raise Http404
    return ledger


def _attachment(response: R, filename: str) -> R:
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def template_download(request: AuthedRequest) -> HttpResponse:
    """The blank ledger; with ?node= its instructions list that node's villages and groups."""
    node = None
    if request.GET.get("node"):
        try:
            node = scoped_node(request, int(request.GET["node"]))
        except ValueError:
            raise Http404 from None
    return _attachment(
        HttpResponse(ledger_template(node), content_type=XLSX_TYPE), "户籍台账模板.xlsx"
    )


@require_http_methods(["GET", "POST"])
def import_upload(request: AuthedRequest, node_pk: int) -> HttpResponse:
    node = scoped_node(request, node_pk)
    try:
        require_import(request.user, node)
    except PermissionDenied as exc:
        return forbidden(request, exc)
    error = ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        try:
            if upload is None:
                raise LedgerFileError(_("Choose a file to upload."))
            check_upload(upload.name or "", upload.size or 0)  # before reading a byte of it
            checked = ledger_check(
                by=request.user, node=node, filename=upload.name or "", data=upload.read()
            )
        except PermissionDenied as exc:
            return forbidden(request, exc)
        except LedgerFileError as exc:
            error = exc.message
        else:
            return redirect("ledger:report", pk=checked.pk)
    limit = settings.LEDGER_MAX_UPLOAD_BYTES
    return render(
        request,
        "households/ledger_import.html",
        {
            "node": node,
            "crumbs": breadcrumbs(node, request.user),
            "error": error,
            "importable": node.level in IMPORT_LEVELS,
            "max_mb": f"{limit / 1024 / 1024:.3g}",
            "recent": LedgerImport.objects.filter(user=request.user, node=node).defer("report")[
                :10
            ],
        },
        status=400 if error else 200,
    )


def _count_rows(report: dict[str, Any], key: str) -> list[tuple[str, dict[str, int]]]:
    counts = report.get(key) or {}
    return [
        (_("Households"), counts.get("households", {})),
        (_("Residents"), counts.get("residents", {})),
    ]


#: How often the report page asks for news while its import waits or runs (htmx polling).
POLL_SECONDS = 3


@require_http_methods(["GET", "POST"])
def import_report(request: AuthedRequest, pk: int) -> HttpResponse:
    """The check's report; "Import" queues it for the worker, and the page then shows its
    state and progress, refreshing itself while it waits or runs, then the result."""
    ledger = _own_import(request, pk)
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action not in ("import", "valid_only"):
            return HttpResponseBadRequest()
        try:
            ledger_queue(
                by=request.user,
                ledger_import=ledger,
                valid_only=action == "valid_only",
                context=AuditContext.of(request),
            )
        except PermissionDenied as exc:
            return forbidden(request, exc)
        except (ImportRefused, LedgerFileError) as exc:
            messages.error(request, exc.message)
            status = 400
            ledger.refresh_from_db()
        else:
            messages.success(
                request,
                _(
                    "The import is queued: the background worker writes it, and this page shows "
                    "how far it got and the result."
                ),
            )
            return redirect("ledger:report", pk=ledger.pk)
    report = ledger.report
    errors = report.get("errors", [])
    importable = ledger.can_import and report.get("valid_households", 0) > 0
    progress = report.get("progress") or {}
    context = {
        "ledger": ledger,
        "node": ledger.node,
        "report": report,
        "progress": progress if ledger.is_active or progress.get("households_done") else {},
        "failure": failure_message(ledger),
        "poll_seconds": POLL_SECONDS,
        "crumbs": breadcrumbs(ledger.node, request.user),
        "errors": errors[:ERRORS_ON_PAGE],
        "more_errors": max(0, len(errors) - ERRORS_ON_PAGE),
        "plan": _count_rows(report, "plan"),
        "result": _count_rows(report, "result"),
        "can_import": importable and not errors,
        "can_import_valid": importable and bool(errors),
    }
    if request.headers.get("HX-Request") and request.method == "GET":
        return render(request, "households/_ledger_state.html", context)
    return render(request, "households/ledger_report.html", context, status=status)


def _csv_safe(value: Any) -> Any:
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else value


@require_GET
def import_errors(request: AuthedRequest, pk: int) -> StreamingHttpResponse:
    """Every error of a check as CSV (行, 列, 原因), for files with more than a page of them."""
    ledger = _own_import(request, pk)

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")
        writer.writerow(["行", "列", "原因"])
        for n, error in enumerate(ledger.report.get("errors", []), start=1):
            writer.writerow([error["row"], _csv_safe(error["column"]), _csv_safe(error["message"])])
            if n % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    _attachment(response, f"errors-{ledger.pk}.csv")
    return response


@require_http_methods(["GET", "POST"])
def export(request: AuthedRequest, node_pk: int) -> HttpResponseBase:
    """GET: the export page, or ?format=xlsx|csv for a masked file. POST unmasked=1: full data."""
    node = scoped_node(request, node_pk)
    data = request.POST if request.method == "POST" else request.GET
    file_format = data.get("format", "")
    if not file_format and request.method == "GET":
        return render(
            request,
            "households/ledger_export.html",
            {
                "node": node,
                "crumbs": breadcrumbs(node, request.user),
                "can_reveal": allowed(request.user, Action.REVEAL, node),
            },
        )
    if file_format not in ("xlsx", "csv"):
        return HttpResponseBadRequest()
    unmasked = request.method == "POST" and data.get("unmasked") == "1"
    try:
        result = ledger_export(
            by=request.user,
            node=node,
            file_format=file_format,
            unmasked=unmasked,
            context=AuditContext.of(request),
        )
    except PermissionDenied as exc:
        return forbidden(request, exc)
    response = StreamingHttpResponse(result.chunks, content_type=result.content_type)
    _attachment(response, result.filename)
    return response
