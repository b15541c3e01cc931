"""Quarterly-menu pages: authoring."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
