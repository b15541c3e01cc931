"""Quarterly-menu pages: campaigns."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
