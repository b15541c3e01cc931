from django.urls import path

from minqing.households import api

app_name = "api"
urlpatterns = [
    path("households/<int:pk>/", api.household_detail, name="household"),
]
