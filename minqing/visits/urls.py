"""Visit-diary pages, included at /visits/."""

from django.urls import path

from minqing.visits.views import cadence, diary, night

app_name = "visits"
urlpatterns = [
    path("", diary.mine, name="mine"),
    path("new/", diary.visit_new, name="new"),
    path("token/", diary.sync_token, name="token"),
    path("sw.js", diary.service_worker, name="service_worker"),
    # cadence: quotas, compliance, events and campaigns (views/cadence.py)
    path("places/<int:node_pk>/quotas/", cadence.quota_rules, name="quotas"),
    path("places/<int:node_pk>/compliance/", cadence.compliance_page, name="compliance"),
    path("liaisons/<int:pk>/due/", cadence.liaison_due, name="liaison_due"),
    path("households/<int:household_pk>/events/", cadence.event_new, name="event_new"),
    path("places/<int:node_pk>/campaigns/", cadence.campaigns, name="campaigns"),
    # night visits (views/night.py)
    path("places/<int:node_pk>/night/", night.night_list, name="night_list"),
    path("places/<int:node_pk>/night/new/", night.night_new, name="night_new"),
    path("night/<int:pk>/", night.night_detail, name="night_detail"),
]
