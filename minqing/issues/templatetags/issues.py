"""Template helpers for issue pages: the traffic light and the colour chip."""

from django import template
from django.utils import timezone

register = template.Library()


@register.simple_tag
def light(issue, now=None) -> str:
    return issue.light(now or timezone.now())
