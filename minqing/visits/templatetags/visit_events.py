"""``{% household_events household %}``: events and must-visit tasks on the household page."""

import uuid

from django import template
from django.utils import timezone

from minqing.visits import selectors
from minqing.visits.services import events

register = template.Library()


@register.inclusion_tag("visits/event_section.html", takes_context=True)
def household_events(context, household):
    today = timezone.localdate()
    return {
        "csrf_token": context.get("csrf_token"),  # the section holds a form
        "household": household,
        **selectors.household_events(household),
        "kinds": [(k.value, k.label) for k in events.FORM_KINDS],
        "values": {"client_uuid": str(uuid.uuid4()), "occurred_on": today.isoformat()},
        "errors": {},
        "today": today,
        "today_iso": today.isoformat(),
    }
