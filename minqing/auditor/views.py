"""The audit trail, readable by the auditor alone (三权分立, docs/SECURITY-BAR.md §8)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from minqing.accounts.middleware import AuthedRequest
from minqing.accounts.scope import scope_for
from minqing.auditor import selectors
from minqing.auditor.forms import AuditFilterForm
from minqing.auditor.services import audit_export
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied
from minqing.lib.views import forbidden

PAGE_SIZE = 100


def _refused(request: HttpRequest) -> HttpResponse | None:
    if not scope_for(request.user).is_auditor:
        return forbidden(request, _("Only the auditor reads the audit trail."))
    return None


@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    """审计日志: newest first, filtered by person, action and days, in words."""
    if (refused := _refused(request)) is not None:
        return refused
    form = AuditFilterForm(request.GET or None)
    valid = form.is_valid() if form.is_bound else True
    audit_filter = form.audit_filter() if form.is_bound and valid else selectors.AuditFilter()
    events = selectors.audit_events(audit_filter)
    if not valid:
        events = events.none()  # say what is wrong; show nothing rather than everything
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    query = QueryDict(mutable=True)
    for key in ("user", "action", "date_from", "date_to"):
        if request.GET.get(key):
            query[key] = request.GET[key]
    return render(
        request,
        "auditor/log.html",
        {
            "form": form,
            "valid": valid,
            "page": page,
            "lines": selectors.describe(list(page.object_list)),
            "query": query.urlencode(),
            "filtered": bool(query),
        },
    )


@require_POST
def audit_log_export(request: AuthedRequest) -> HttpResponseBase:
    """The filtered trail as CSV, for the auditor only; the export is audited itself."""
    if (refused := _refused(request)) is not None:
        return refused
    form = AuditFilterForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "auditor/log.html",
            {"form": form, "valid": False, "page": None, "lines": [], "query": ""},
            status=400,
        )
    try:
        chunks, filename = audit_export(
            by=request.user, audit_filter=form.audit_filter(), context=AuditContext.of(request)
        )
    except PermissionDenied as exc:
        return forbidden(request, exc)
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "no-store"
    return response
