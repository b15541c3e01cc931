from django.urls import include, path
from django.views.i18n import set_language

from minqing import api
from minqing.accounts.middleware import public
from minqing.lib.views import favicon, healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("i18n/setlang/", public(set_language), name="set_language"),
    path("accounts/", include("minqing.accounts.urls")),
    path("households/", include("minqing.households.urls")),
    path("audit/", include("minqing.audit.urls")),
    path("ledger/", include("minqing.households.ledger_urls")),
    path("issues/", include("minqing.issues.urls")),
    path("notifications/", include("minqing.notifications.urls")),
    path("calendar/", include("minqing.workdays.urls")),
    path("contacts/", include("minqing.contacts.urls")),
    path("visits/", include("minqing.visits.urls")),
    path("r/", include("minqing.public.urls")),
    path("api/v1/", api.urls()),
    path("", include("minqing.org.urls")),
]

handler403 = "minqing.lib.views.permission_denied"
handler404 = "minqing.lib.views.page_not_found"
handler500 = "minqing.lib.views.server_error"
