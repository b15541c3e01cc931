"""Answers that may hold personal data are never cached: a proxy or the
disk cache of a shared office computer would keep a household page after logout."""

from __future__ import annotations

from django.templatetags.static import static
from django.urls import reverse

from minqing.accounts.models import Role
from minqing.conftest import make_user


def test_every_authenticated_page_api_answer_and_export_is_no_store(client, county, owner):
    client.force_login(owner)
    household = county.household_a1
    for url in (
        reverse("households:detail", kwargs={"pk": household.pk}),
        reverse("households:edit", kwargs={"pk": household.pk}),
        reverse("org:node", kwargs={"pk": county.village_a.pk}),
        reverse("api:household", kwargs={"pk": household.pk}),
        reverse("ledger:export", kwargs={"node_pk": county.village_a.pk}) + "?format=csv",
        "/",  # a redirect to the landing page
    ):
        response = client.get(url)
        assert response.status_code in (200, 302), url
        assert response["Cache-Control"] == "no-store", url


def test_a_bearer_token_answer_is_no_store(client, county):
    from minqing.accounts.services import api_token_issue

    user = make_user("api_reader", Role.VILLAGE_CADRE, county.village_a)
    _token, secret = api_token_issue(user=user, name="t")
    response = client.get(
        reverse("api:household", kwargs={"pk": county.household_a1.pk}),
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


def test_a_404_and_a_403_for_a_logged_in_user_are_no_store_too(client, county, owner):
    client.force_login(owner)
    missing = client.get(reverse("households:detail", kwargs={"pk": county.household_b1.pk}))
    assert missing.status_code == 404
    assert missing["Cache-Control"] == "no-store"


def test_static_files_stay_cacheable(client, county, owner):
    client.force_login(owner)
    response = client.get(static("minqing/landing.css"))
    assert response.status_code == 200
    assert "no-store" not in response["Cache-Control"]
    assert "public" in response["Cache-Control"]
