"""Public pages residents reach without an account, included at /r/."""

from django.urls import path

from minqing.public import views

app_name = "public"
urlpatterns = [
    path("<str:token>/", views.submit, name="submit"),
    path("<str:token>/thanks/", views.thanks, name="thanks"),
]
