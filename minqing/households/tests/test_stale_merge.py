"""A stale household edit (409) shows what the other person changed beside what the editor
typed, and saves either without retyping."""

from __future__ import annotations

from django.urls import reverse

from minqing.households.services import household_update

from .test_household_edit import _form


def _stale(client, county, owner, county_user, **typed):
    h = county.household_a1
    household_update(
        by=county_user,
        household=h,
        data={"address": "别人改的地址", "income_source": "外出务工"},
        base_version=1,
    )
    client.force_login(owner)
    url = reverse("households:edit", kwargs={"pk": h.pk})
    return h, url, client.post(url, _form(h, version=1, **typed))


def test_stale_edit_shows_both_values_field_by_field(client, county, owner, county_user):
    h, _url, response = _stale(
        client, county, owner, county_user, address="我改的地址", family_situation="老两口"
    )
    assert response.status_code == 409
    page = response.content.decode()
    conflict = page.split('class="card conflict"', 1)[1].split("</section>", 1)[0]
    assert "别人改的地址" in conflict and "我改的地址" in conflict
    assert "county_user" in conflict  # who changed it
    # the editor changed the address too: theirs is offered, theirs is not the default
    assert 'name="resolve_address" value="mine" checked' in conflict
    # the income source the editor left as it was: theirs is taken into the form, no choice
    assert "resolve_income_source" not in conflict
    assert "外出务工" in conflict and "(was: 务农)" in conflict
    assert 'name="income_source" value="外出务工"' in page
    assert "family_situation" not in conflict  # only the other person's fields are listed
    assert 'name="version" value="2"' in page  # resubmitting applies to what was shown
    assert "老两口" in page  # the rest of the input is kept
    h.refresh_from_db()
    assert (h.address, h.version) == ("别人改的地址", 2)


def test_keep_mine_saves_what_was_typed_on_the_new_version(client, county, owner, county_user):
    h, url, _response = _stale(client, county, owner, county_user, address="我改的地址")
    response = client.post(
        url,
        _form(
            h,
            version=2,
            address="我改的地址",
            income_source="外出务工",  # as the page put it back
            resolve_address="mine",
        ),
    )
    assert response.status_code == 302
    h.refresh_from_db()
    assert (h.address, h.income_source, h.version) == ("我改的地址", "外出务工", 3)


def test_take_all_of_theirs_keeps_their_values_and_my_other_changes(
    client, county, owner, county_user
):
    h, url, _response = _stale(
        client, county, owner, county_user, address="我改的地址", family_situation="老两口"
    )
    response = client.post(
        url,
        _form(
            h,
            version=2,
            address="我改的地址",
            family_situation="老两口",
            income_source="外出务工",
            resolve_address="mine",
            resolve_all="theirs",
        ),
    )
    assert response.status_code == 302
    h.refresh_from_db()
    assert (h.address, h.income_source, h.family_situation) == (
        "别人改的地址",
        "外出务工",
        "老两口",
    )


def test_a_third_edit_meanwhile_is_refused_again(client, county, owner, county_user):
    h, url, _response = _stale(client, county, owner, county_user, address="我改的地址")
    household_update(by=county_user, household=h, data={"address": "第三次"}, base_version=2)
    response = client.post(url, _form(h, version=2, address="我改的地址", resolve_address="mine"))
    assert response.status_code == 409
    page = response.content.decode()
    assert "第三次" in page and "我改的地址" in page
    h.refresh_from_db()
    assert (h.address, h.version) == ("第三次", 3)
