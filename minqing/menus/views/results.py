"""Quarterly-menu pages: results."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
