from django.urls import path

from minqing.org import views

app_name = "org"
urlpatterns = [
    path("", views.home, name="home"),
    path("nodes/<int:pk>/", views.node_detail, name="node"),
]
