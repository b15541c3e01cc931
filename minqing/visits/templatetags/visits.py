"""``{% household_visits household %}``: the last visits on the household page."""

from django import template

from minqing.visits import selectors

register = template.Library()


@register.inclusion_tag("visits/_household_visits.html")
def household_visits(household):
    return {"household": household, "visits": selectors.household_visits(household.pk)}
