"""Quarterly-menu pages: phone."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
