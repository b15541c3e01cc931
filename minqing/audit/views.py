"""The audit trail, readable by the auditor alone (三权分立, SECURITY.md 8)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from minqing.accounts.scope import scope_for
from minqing.audit.models import AuditEvent
from minqing.lib.views import forbidden


def audit_log(request: HttpRequest) -> HttpResponse:
    if not scope_for(request.user).is_auditor:
        return forbidden(request, _("Only the auditor reads the audit trail."))
    events = AuditEvent.objects.order_by("-id")
    action = request.GET.get("action", "")
    if action:
        events = events.filter(action=action)
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    return render(request, "audit/log.html", {"page": page, "action": action})
