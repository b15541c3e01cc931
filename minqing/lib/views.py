"""Views that belong to no domain app."""

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from minqing.accounts.middleware import public


@public
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def forbidden(request: HttpRequest, reason: object) -> HttpResponse:
    """403 that says why (the user is in scope but their role may not do this)."""
    return render(request, "forbidden.html", {"reason": str(reason)}, status=403)
