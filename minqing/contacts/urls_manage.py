"""Liaisons, hand-set links, assignment runs and the rules."""

from django.urls import path

from minqing.contacts import views, views_rules

urlpatterns: list = [
    path("places/<int:node_pk>/liaisons/", views.liaison_list, name="liaisons"),
    path("places/<int:node_pk>/liaisons/add/", views.liaison_add, name="liaison_add"),
    path("liaisons/<int:pk>/edit/", views.liaison_edit, name="liaison_edit"),
    path("liaisons/<int:pk>/retire/", views.liaison_retire, name="liaison_retire"),
    path("households/<int:household_pk>/link/", views.link_set, name="link_set"),
    path("links/<int:pk>/release/", views.link_release, name="link_release"),
    path("places/<int:node_pk>/runs/", views.run_list, name="runs"),
    path("places/<int:node_pk>/runs/start/", views.run_start, name="run_start"),
    path("places/<int:node_pk>/rules/", views_rules.rules, name="rules"),
]
