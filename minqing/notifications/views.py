"""The user's own notifications: the list, opening one, marking all read."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from minqing.notifications import selectors, services
from minqing.notifications.models import Notification


@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "notifications/list.html",
        {"notifications": selectors.recent_for(request.user)},
    )


@require_GET
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Opening a notification reads it, then goes where it points (a path on this site)."""
    try:
        note = selectors.notification_for(request.user, pk)
    except Notification.DoesNotExist:
        raise Http404 from None
    services.notification_mark_read(user=request.user, ids=[note.pk])
    link = note.link
    if link.startswith("/") and url_has_allowed_host_and_scheme(link, allowed_hosts=None):
        return redirect(link)
    return redirect("notifications:list")


@require_POST
def notification_mark_read(request: HttpRequest) -> HttpResponse:
    services.notification_mark_read(user=request.user)
    return redirect("notifications:list")
