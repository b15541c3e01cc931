"""Quarterly-menu pages: paper entry."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
