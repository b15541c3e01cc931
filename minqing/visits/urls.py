"""Visit-diary pages, included at /visits/."""

from django.urls import path

from minqing.visits import views

app_name = "visits"
urlpatterns = [
    path("", views.mine, name="mine"),
    path("new/", views.visit_new, name="new"),
    path("token/", views.sync_token, name="token"),
    path("sw.js", views.service_worker, name="service_worker"),
]
