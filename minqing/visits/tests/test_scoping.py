"""Visit routes and their scoping: the pages are the user's own (no object in the URL); the
household a visit names is checked by the service (404 out of scope, see test_pages)."""

from __future__ import annotations

import uuid

from django.urls import reverse

from minqing.visits.models import Visit

#: Routes about one object, checked for 404 out of scope in this module.
ROUTE_NAMES: set[str] = set()
#: Routes without an object in the URL: the user's own lists and forms, the offline helpers.
UNSCOPED = {
    "visits:mine",
    "visits:new",
    "visits:token",
    "visits:service_worker",
    # the API: the household a visit names is checked by the service (tests/test_visits)
    "api:visit_record",
    "api:my_households",
    "api:me",
}


def test_an_outsider_can_record_no_visit_and_sees_no_household(client, county, outsider):
    client.force_login(outsider)
    page = client.get(reverse("visits:mine")).content.decode()
    assert county.household_a1.head_name not in page
    response = client.post(
        reverse("visits:new"),
        {
            "client_uuid": str(uuid.uuid4()),
            "household": str(county.household_a1.pk),
            "mode": "home",
            "visited_at": "2026-01-01T10:00",
        },
    )
    assert response.status_code == 404
    assert not Visit.objects.exists()


def test_anonymous_is_sent_to_log_in_except_for_the_service_worker(client):
    for name in ("visits:mine", "visits:new", "visits:token"):
        assert client.get(reverse(name)).status_code == 302
    assert client.get(reverse("visits:service_worker")).status_code == 200
