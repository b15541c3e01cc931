"""URLs for ``minqing bench``: the site's own, plus one trivial logged-in page as a yardstick.

The ping page goes through the whole middleware stack (session, user, login check, session
save) and does nothing else, so it shows what any logged-in page costs before its own work.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from minqing.urls import urlpatterns as site_urlpatterns


def ping(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"ok {request.user.pk}", content_type="text/plain")


urlpatterns = [path("__bench__/ping/", ping, name="bench-ping"), *site_urlpatterns]
