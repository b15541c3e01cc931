from django.urls import path

from minqing.households import views

app_name = "households"
urlpatterns = [
    path("search/", views.search_view, name="search"),
    path("<int:pk>/", views.household_detail, name="detail"),
]
