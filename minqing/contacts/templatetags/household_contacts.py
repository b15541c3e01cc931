"""``{% household_contacts household %}``: the people responsible for a household, on the
household page (the households app sits below contacts and imports none of it)."""

from typing import Any

from django import template

from minqing.contacts.selectors import household_contacts as contacts_of
from minqing.households.models import Household

register = template.Library()


@register.inclusion_tag("contacts/_household_section.html", takes_context=True)
def household_contacts(context: template.Context, household: Household) -> dict[str, Any]:
    return {
        "csrf_token": context.get("csrf_token"),  # the section holds forms
        "household": household,
        "contacts": contacts_of(context["request"].user, household),
    }
