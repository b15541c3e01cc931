from django.urls import path

from minqing.households import api

app_name = "api"
urlpatterns = [
    path("nodes/<int:pk>/", api.node_detail, name="node"),
    path("households/<int:pk>/", api.household_detail, name="household"),
    path("search/", api.search, name="search"),
    path("<str:kind>/<int:pk>/reveal/", api.reveal, name="reveal"),
]
