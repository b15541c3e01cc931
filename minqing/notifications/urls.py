from django.urls import path

from minqing.notifications import views

app_name = "notifications"
urlpatterns = [
    path("", views.notification_list, name="list"),
    path("read/", views.notification_mark_read, name="mark_read"),
    path("<int:pk>/", views.notification_open, name="open"),
]
