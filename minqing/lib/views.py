"""Views that belong to no domain app."""

from django.db import connection
from django.http import HttpRequest, JsonResponse

from minqing.accounts.middleware import public


@public
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
