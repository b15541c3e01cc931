"""Ledger (台账) import and export pages, included at /ledger/."""

from django.urls import path

from minqing.households import ledger_views

app_name = "ledger"
urlpatterns = [
    path("template/", ledger_views.template_download, name="template"),
    path("<int:node_pk>/import/", ledger_views.import_upload, name="import"),
    path("imports/<int:pk>/", ledger_views.import_report, name="report"),
    path("imports/<int:pk>/errors.csv", ledger_views.import_errors, name="errors"),
    path("<int:node_pk>/export/", ledger_views.export, name="export"),
]
