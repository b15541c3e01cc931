from django.urls import path

from minqing.issues import views, views_issue

app_name = "issues"
urlpatterns = [
    path("", views.issue_list, name="list"),
    path("board/", views.board, name="board"),
    path("late/", views.late_units, name="late"),
    path("settings/", views.issue_settings, name="settings"),
    path("topics/", views.topics, name="topics"),
    path("topics/new/", views.topic_create, name="topic_create"),
    path("new/", views.register, name="register"),
    path("new/similar/", views.similar_check, name="similar_check"),
    path("<int:pk>/", views_issue.issue_detail, name="detail"),
    path("<int:pk>/alike/", views_issue.issue_alike, name="alike"),
    path("<int:pk>/attach/", views.attach, name="attach"),
    path("<int:pk>/photos/", views_issue.photo_upload, name="photo_upload"),
    path("<int:pk>/photos/<int:photo_pk>/", views_issue.photo, name="photo"),
    path("<int:pk>/do/<slug:action>/", views_issue.issue_act, name="act"),
]
