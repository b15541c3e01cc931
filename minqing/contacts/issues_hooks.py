"""What the contacts app adds to the issues app, which sits below it and imports none of it:
a household's current liaisons hear about the problems it reported when no person who logs in
reported them (registered when the contacts app is ready, ``ContactsConfig.ready``)."""

from __future__ import annotations

from minqing.accounts.models import User
from minqing.contacts.models import ContactLink
from minqing.issues.services.common import register_household_contacts


def household_liaisons(household_ids: set[int]) -> list[User]:
    """The active people linked now, as active liaisons, to any of the households."""
    users = (
        ContactLink.objects.current()
        .filter(household_id__in=household_ids, liaison__active=True, liaison__user__is_active=True)
        .values_list("liaison__user_id", flat=True)
    )
    return list(User.objects.filter(pk__in=set(users)))


register_household_contacts(household_liaisons)
