from django.urls import path

from minqing.auditor import views

app_name = "audit"  # the URL names predate the split: audit:log, audit:export
urlpatterns = [
    path("", views.audit_log, name="log"),
    path("export.csv", views.audit_log_export, name="export"),
]
