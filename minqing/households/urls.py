from django.urls import path

from minqing.households import views

app_name = "households"
urlpatterns = [
    path("search/", views.search_view, name="search"),
    path("<int:pk>/", views.household_detail, name="detail"),
    path("<int:pk>/edit/", views.household_edit, name="edit"),
    path("<int:pk>/members/new/", views.resident_add, name="resident_add"),
    path("members/<int:pk>/edit/", views.resident_edit, name="resident_edit"),
    path("members/<int:pk>/remove/", views.resident_remove, name="resident_remove"),
    path("new/in/<int:node_pk>/", views.household_create, name="create"),
    path(
        "villages/<int:node_pk>/archive/", views.village_archive_edit, name="village_archive_edit"
    ),
    path("reveal/<str:kind>/<int:pk>/<str:field>/", views.reveal, name="reveal"),
]
