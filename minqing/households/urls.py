"""The households app's pages: ``urlpatterns`` at /households/ (namespace "households") and
``ledger_patterns``, the ledger (台账) import and export pages at /ledger/ (namespace "ledger")."""

from django.urls import path

from minqing.households.views import household, ledger, members, search, village

app_name = "households"
urlpatterns = [
    path("search/", search.search_view, name="search"),
    path("<int:pk>/", household.household_detail, name="detail"),
    path("<int:pk>/edit/", household.household_edit, name="edit"),
    path("<int:pk>/members/new/", members.resident_add, name="resident_add"),
    path("members/<int:pk>/edit/", members.resident_edit, name="resident_edit"),
    path("members/<int:pk>/remove/", members.resident_remove, name="resident_remove"),
    path("new/in/<int:node_pk>/", household.household_create, name="create"),
    path(
        "villages/<int:node_pk>/archive/",
        village.village_archive_edit,
        name="village_archive_edit",
    ),
    path("reveal/<str:kind>/<int:pk>/<str:field>/", household.reveal, name="reveal"),
]

#: Included by the project's urls at /ledger/ as ``include(ledger_patterns)``.
ledger_patterns = (
    [
        path("template/", ledger.template_download, name="template"),
        path("<int:node_pk>/import/", ledger.import_upload, name="import"),
        path("imports/<int:pk>/", ledger.import_report, name="report"),
        path("imports/<int:pk>/errors.csv", ledger.import_errors, name="errors"),
        path("<int:node_pk>/export/", ledger.export, name="export"),
    ],
    "ledger",
)
