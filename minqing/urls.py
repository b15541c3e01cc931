import sys

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.i18n import set_language

from minqing import api
from minqing.households.urls import ledger_patterns
from minqing.lib import views
from minqing.lib.access import public
from minqing.lib.busy import is_busy
from minqing.lib.views import favicon, healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("i18n/setlang/", public(set_language), name="set_language"),
    path("accounts/", include("minqing.accounts.urls")),
    path("households/", include("minqing.households.urls")),
    path("audit/", include("minqing.auditor.urls")),
    path("ledger/", include(ledger_patterns)),
    path("issues/", include("minqing.issues.urls")),
    path("notifications/", include("minqing.notifications.urls")),
    path("calendar/", include("minqing.workdays.urls")),
    path("contacts/", include("minqing.contacts.urls")),
    path("visits/", include("minqing.visits.urls")),
    path("menus/", include("minqing.menus.urls")),
    path("r/", include("minqing.public.urls")),
    path("api/v1/", api.urls()),
    path("", include("minqing.org.urls")),
]


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: JSON under /api/ (the API's answer), else the page."""
    if request.path_info.startswith("/api/"):
        return api.not_found(request)
    return views.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: JSON under /api/ (unless the database is too busy: the 503 page), else the
    page."""
    if request.path_info.startswith("/api/") and not is_busy(sys.exc_info()[1]):
        return api.server_error(request)
    return views.server_error(request)


handler403 = "minqing.lib.views.permission_denied"
handler404 = page_not_found
handler500 = server_error
