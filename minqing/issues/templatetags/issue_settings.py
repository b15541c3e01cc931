"""``{% can_edit_issue_settings as x %}``: for pages below issues (the organisation home page)
that link to the issue settings without importing the issues app."""

from __future__ import annotations

from typing import Any

from django import template

from minqing.issues.services.settings import can_edit_settings

register = template.Library()


@register.simple_tag(takes_context=True)
def can_edit_issue_settings(context: Any) -> bool:
    return can_edit_settings(context["request"].user)
