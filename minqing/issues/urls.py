from django.urls import path

from minqing.issues.views import issue, lists, register, settings, topics

app_name = "issues"
urlpatterns = [
    path("", lists.issue_list, name="list"),
    path("board/", lists.board, name="board"),
    path("late/", lists.late_units, name="late"),
    path("settings/", settings.issue_settings, name="settings"),
    path("topics/", topics.topics, name="topics"),
    path("topics/new/", topics.topic_create, name="topic_create"),
    path("new/", register.register, name="register"),
    path("new/similar/", register.similar_check, name="similar_check"),
    path("<int:pk>/", issue.issue_detail, name="detail"),
    path("<int:pk>/alike/", issue.issue_alike, name="alike"),
    path("<int:pk>/attach/", register.attach, name="attach"),
    path("<int:pk>/photos/", issue.photo_upload, name="photo_upload"),
    path("<int:pk>/photos/<int:photo_pk>/", issue.photo, name="photo"),
    path("<int:pk>/do/<slug:action>/", issue.issue_act, name="act"),
]
