"""Visit-diary pages, included at /visits/."""

from django.urls import path

from minqing.visits import views, views_cadence, views_night

app_name = "visits"
urlpatterns = [
    path("", views.mine, name="mine"),
    path("new/", views.visit_new, name="new"),
    path("token/", views.sync_token, name="token"),
    path("sw.js", views.service_worker, name="service_worker"),
    # cadence: quotas, compliance, events and campaigns (views_cadence)
    path("places/<int:node_pk>/quotas/", views_cadence.quota_rules, name="quotas"),
    path("places/<int:node_pk>/compliance/", views_cadence.compliance_page, name="compliance"),
    path("liaisons/<int:pk>/due/", views_cadence.liaison_due, name="liaison_due"),
    path("households/<int:household_pk>/events/", views_cadence.event_new, name="event_new"),
    path("places/<int:node_pk>/campaigns/", views_cadence.campaigns, name="campaigns"),
    # night visits (views_night)
    path("places/<int:node_pk>/night/", views_night.night_list, name="night_list"),
    path("places/<int:node_pk>/night/new/", views_night.night_new, name="night_new"),
    path("night/<int:pk>/", views_night.night_detail, name="night_detail"),
]
