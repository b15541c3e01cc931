"""The API answers a households refusal with its stable code beside the message."""

from __future__ import annotations

from django.urls import reverse

from minqing.households.errors import HouseholdErrorCode
from minqing.households.tests.writes import writes


def test_reveal_of_a_field_that_is_not_confidential_answers_its_code(client, county, owner):
    client.force_login(owner)
    url = reverse("api:reveal", kwargs={"kind": "households", "pk": county.household_a1.pk})
    before = writes()
    answer = client.post(url, {"field": "head_name"}, content_type="application/json")
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == HouseholdErrorCode.NOTHING_TO_REVEAL == "household.nothing_to_reveal"
    assert body["codes"] == {"field": ["household.nothing_to_reveal"]}
    assert writes() == before


def test_the_codes_are_registered_for_the_schema():
    from minqing.lib.errors import all_codes

    assert {c.value for c in HouseholdErrorCode} <= set(all_codes())
