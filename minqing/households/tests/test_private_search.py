"""ID numbers and phones never travel in a URL (proxies and server logs keep
URLs). The search form posts; a search for words is redirected to a shareable ``?q=``; one for a
number is answered to the POST itself; a ``?q=`` holding a number is not searched."""

from __future__ import annotations

import re

from django.urls import reverse

from minqing.households.tests.writes import writes
from minqing.lib.idcard import make_id_number


def _forms_with_q(html: str) -> list[str]:
    return [f for f in re.findall(r"<form\b[^>]*>.*?</form>", html, re.S) if 'name="q"' in f]


def _assert_no_digits_in_links_or_location(response, digits: str) -> None:
    assert digits not in response.get("Location", "")
    html = response.content.decode()
    for href in re.findall(r'(?:href|action|hx-get|hx-post)="([^"]*)"', html):
        assert digits not in href, href


def test_the_search_forms_post(client, county, owner):
    client.force_login(owner)
    for url in (
        reverse("households:search"),
        reverse("households:detail", kwargs={"pk": county.household_a1.pk}),
    ):
        forms = _forms_with_q(client.get(url).content.decode())
        assert forms, url
        for form in forms:
            assert 'method="post"' in form, form


def test_an_id_number_search_is_answered_to_the_post_with_no_number_in_any_url(
    client, county, owner
):
    client.force_login(owner)
    value = county.resident_a1.id_number.reveal()
    response = client.post(reverse("households:search"), {"q": value})
    assert response.status_code == 200  # answered here, not redirected to ?q=…
    assert "王建国" in response.content.decode()
    _assert_no_digits_in_links_or_location(response, value)
    _assert_no_digits_in_links_or_location(response, value[6:14])
    phone = client.post(reverse("households:search"), {"q": "138 1234 5678"})
    assert phone.status_code == 200
    assert "王建国" in phone.content.decode()
    _assert_no_digits_in_links_or_location(phone, "12345678")


def test_a_search_for_words_is_redirected_to_a_shareable_address(client, county, owner):
    client.force_login(owner)
    response = client.post(reverse("households:search"), {"q": "王建"})
    assert response.status_code == 302
    assert response["Location"] == reverse("households:search") + "?q=%E7%8E%8B%E5%BB%BA"
    assert "王建国" in client.get(response["Location"]).content.decode()


def test_a_number_in_the_address_is_not_searched(client, county, owner):
    client.force_login(owner)
    value = county.resident_a1.id_number.reveal()
    for query in (value, "13812345678", "138-1234-5678", value[:10]):
        response = client.get(reverse("households:search"), {"q": query})
        # Off the address at once, to the bare search page: not searched, not echoed.
        assert response.status_code == 302
        assert response["Location"] == reverse("households:search")
        page = client.get(response["Location"]).content.decode()
        assert "王建国" not in page
        assert "searched through this form only" in page
        assert query not in page


def test_the_api_takes_numbers_in_the_body_only(client, county, owner):
    client.force_login(owner)
    value = county.resident_a1.id_number.reveal()
    before = writes()
    refused = client.get(reverse("api:search"), {"q": value})
    assert refused.status_code == 400
    assert writes() == before
    assert "POST /api/v1/search/" in refused.json()["errors"]["q"][0]
    answer = client.post(reverse("api:search"), {"q": value}, content_type="application/json")
    assert answer.status_code == 200
    body = answer.json()
    assert body["kind"] == "id_number"
    assert [r["id"] for r in body["residents"]] == [county.resident_a1.pk]
    assert client.get(reverse("api:search"), {"q": "王建"}).status_code == 200


def test_an_id_registered_in_another_village_is_not_told(client, county, owner, outsider):
    """The existence oracle: a cadre of 李集村 typing the ID of a 王庄村 resident learns only
    that the number cannot be registered, and the attempt is audited."""
    from minqing.audit.models import AuditEvent
    from minqing.households.models import Resident

    value = county.resident_a1.id_number.reveal()
    client.force_login(outsider)
    before = Resident.objects.count()
    response = client.post(
        reverse("households:resident_add", kwargs={"pk": county.household_b1.pk}),
        {
            "name": "李新",
            "relation": "child",
            "id_number": value,
            "politics": "masses",
            "health": "healthy",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "This ID number cannot be registered here." in page
    for told in ("already registered", "王庄村", "A001", "王建国"):
        assert told not in page, told
    assert Resident.objects.count() == before
    event = AuditEvent.objects.filter(action="resident.id_refused").get()
    assert (event.username, event.success) == ("outsider", False)


def test_an_id_registered_in_ones_own_village_names_the_household(client, county, owner):
    value = make_id_number("341602", county.resident_a1.birth_date, 40, "F")
    from minqing.households.services import resident_add

    resident_add(
        by=owner,
        household=county.household_a2,
        data={"name": "王丽", "relation": "spouse", "id_number": value},
    )
    client.force_login(owner)
    response = client.post(
        reverse("households:resident_add", kwargs={"pk": county.household_a1.pk}),
        {
            "name": "王丽",
            "relation": "spouse",
            "id_number": value,
            "politics": "masses",
            "health": "healthy",
        },
    )
    assert response.status_code == 200
    assert "already registered to a member of household A002 in 王庄村" in response.content.decode()
