"""Finding issues: the list and board filters (village, colour, category, light, overdue) kept
in the URL, the category guessed from the text, and pages that show names and words instead of
codes and scores."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from minqing.issues.categorise import guess_category
from minqing.issues.models import Category, Colour
from minqing.issues.services import issue_dispatch
from minqing.issues.templatetags.likeness import likeness
from minqing.org.models import Department


def _ids(html: str) -> list[int]:
    return sorted(int(n) for n in re.findall(r'class="issue-title">#(\d+) ', html))


@pytest.fixture
def spread(county, member, town, departments, register, clock, outsider):
    """Issues of both villages, two colours, two categories, with green, yellow and red lights."""
    from minqing.accounts.models import Role
    from minqing.conftest import make_user

    road = Category.objects.get(code="road")
    b_worker = make_user("b_worker", Role.GRID_WORKER, county.grid_b1)
    a_old = register(description="村东头的灌溉水渠破了")  # yellow, irrigation, 王庄村
    clock.advance(hours=28)  # Tue 14:00: a_old's yellow light is on (due at the day's end)
    a_road = register(description="一组路灯不亮", category=road, colour=Colour.BLUE)
    a_new = register(description="二组机井坏了")
    b_road = register(by=b_worker, node=county.grid_b1, description="李集村路面坑洼", category=road)
    issue_dispatch(by=town, issue=a_new, to_department=departments.water)
    return {"a_old": a_old, "a_road": a_road, "a_new": a_new, "b_road": b_road, "road": road}


def test_list_filters_return_exactly_the_matching_issues(
    client, county, county_user, spread, clock
):
    s = spread
    client.force_login(county_user)
    url = reverse("issues:list")

    def listed(query: str) -> list[int]:
        response = client.get(f"{url}?{query}")
        assert response.status_code == 200
        return _ids(response.content.decode())

    assert listed("") == sorted(i.pk for k, i in s.items() if k != "road")
    assert listed(f"village={county.village_b.pk}") == [s["b_road"].pk]
    assert listed("colour=blue") == [s["a_road"].pk]
    assert listed(f"category={s['road'].pk}") == sorted([s["a_road"].pk, s["b_road"].pk])
    assert listed(f"category={s['road'].pk}&village={county.village_a.pk}") == [s["a_road"].pk]
    assert listed("light=yellow") == [s["a_old"].pk]  # 70 % of its time gone
    assert listed("light=green") == sorted([s["a_road"].pk, s["a_new"].pk, s["b_road"].pk])
    assert listed("overdue=1") == []
    clock.advance(hours=11)  # Wed 01:00: a_old is past its deadline, the others are not
    client.force_login(county_user)  # a new session: the old one timed out meanwhile
    assert listed("overdue=1") == [s["a_old"].pk]
    assert listed("light=red") == [s["a_old"].pk]
    yellow = listed("light=yellow")
    green = listed("light=green")
    assert s["a_old"].pk not in yellow + green
    assert sorted(yellow + green) == sorted([s["a_road"].pk, s["a_new"].pk, s["b_road"].pk])
    # kept in the URL and shown as selected
    page = client.get(f"{url}?colour=blue&category={s['road'].pk}").content.decode()
    assert '<option value="blue" selected>' in page
    assert f'<option value="{s["road"].pk}" selected>' in page
    assert f"colour=blue&amp;category={s['road'].pk}" in page  # the tabs keep the filters
    assert "1 issue" in page


def test_filters_stay_inside_the_readers_scope(client, county, owner, spread):
    client.force_login(owner)
    url = reverse("issues:list")
    assert client.get(f"{url}?village={county.village_b.pk}").status_code == 404
    page = client.get(f"{url}?category={spread['road'].pk}").content.decode()
    assert _ids(page) == [spread["a_road"].pk]
    assert client.get(f"{url}?village=x&colour=nonsense&light=purple").status_code == 200


def test_board_filters_and_counts_follow_them_with_constant_queries(
    client, county, county_user, spread, register, pinned_queries
):
    s = spread
    client.force_login(county_user)
    url = reverse("issues:board") + f"?category={s['road'].pk}"

    def board() -> tuple[str, int]:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert response.status_code == 200
        return response.content.decode(), len(ctx.captured_queries)

    page, few = board()
    assert _ids(page) == sorted([s["a_road"].pk, s["b_road"].pk])
    counts = re.findall(r'<h2>[^<]+<span class="badge">(\d+)</span>', page)
    assert counts == ["2", "0", "0"]
    assert f'<option value="{s["road"].pk}" selected>' in page
    for n in range(5):
        register(description=f"第{n}段路面坏了", category=s["road"])
        register(description=f"第{n}处水渠漏水")
    page, many = board()
    assert many == few
    pinned_queries.pin("issues.board.filtered", many)
    assert re.findall(r'<h2>[^<]+<span class="badge">(\d+)</span>', page) == ["7", "0", "0"]
    url = reverse("issues:board") + f"?village={county.village_b.pk}"
    assert _ids(board()[0]) == [s["b_road"].pk]


def test_the_category_is_guessed_from_the_words(county, irrigation):
    town = county.town_a.pk
    road = Category.objects.get(code="road")
    assert guess_category("路灯不亮", town_id=town) == road.pk
    assert guess_category("村东头水渠破了，浇不了地", town_id=town) == irrigation.pk
    assert guess_category("家里停电两天了", town_id=town) == Category.objects.get(code="power").pk
    assert guess_category("嗯", town_id=town) is None
    assert guess_category("谢谢", town_id=town) is None


def test_alike_issues_decide_before_the_word_list(county, register, clock):
    """The county files 路灯 under power: the alike open issues say so, the words do not."""
    power = Category.objects.get(code="power")
    register(description="三组路灯不亮，晚上很黑", category=power)
    register(description="路灯坏了不亮", category=power)
    assert guess_category("路灯不亮了", town_id=county.town_a.pk) == power.pk


def test_register_page_preselects_nothing_and_guesses_while_typing(client, county, member, clock):
    client.force_login(member)
    page = client.get(reverse("issues:register") + f"?node={county.grid_a1.pk}").content.decode()
    select = page.split('name="category"', 1)[1].split("</select>", 1)[0]
    assert "selected" not in select.replace('value="" selected', "")
    assert '<option value="" selected>' in select
    road = Category.objects.get(code="road")
    check = reverse("issues:similar_check")
    base = f"{check}?node={county.grid_a1.pk}&description=路灯不亮"
    answer = client.get(base + "&category=&category_guessed=").content.decode()
    assert 'hx-swap-oob="true"' in answer
    assert f'<option value="{road.pk}" selected>' in answer
    assert f'name="category_guessed" id="id_category_guessed" value="{road.pk}"' in answer
    # the reporter chose a category themself: the guess leaves it alone
    power = Category.objects.get(code="power")
    answer = client.get(base + f"&category={power.pk}&category_guessed={road.pk}").content.decode()
    assert "hx-swap-oob" not in answer
    # the choice is still the guess: a new text may replace it
    water_text = f"{check}?node={county.grid_a1.pk}&description=水渠破了浇不了地"
    answer = client.get(water_text + f"&category={road.pk}&category_guessed={road.pk}")
    irrigation = Category.objects.get(code="irrigation")
    assert f'<option value="{irrigation.pk}" selected>' in answer.content.decode()


def test_settings_show_department_names_not_codes(client, county, county_user, departments):
    client.force_login(county_user)
    page = client.get(reverse("issues:settings")).content.decode()
    assert "irrigation → water" not in page and "road → transport" not in page
    summary = page.split("农田水利", 1)[1].split("</summary>", 1)[0]
    assert "→ 区水利局" in summary
    road = page.split("道路交通", 1)[1].split("</summary>", 1)[0]
    assert "no department has its code yet" in road  # nobody holds "transport" here
    assert '<option value="water" selected>区水利局</option>' in page
    assert "<code>" not in page


def test_settings_save_a_department_by_its_choice(client, county, county_user, departments):
    client.force_login(county_user)
    road = Category.objects.get(code="road")
    data = {
        "category": road.pk,
        f"c{road.pk}-name": road.name,
        f"c{road.pk}-name_en": road.name_en,
        f"c{road.pk}-kind": road.kind,
        f"c{road.pk}-department_code": "power",
        f"c{road.pk}-active": "on",
        f"c{road.pk}-sort_key": road.sort_key,
    }
    assert client.post(reverse("issues:settings"), data).status_code == 302
    road.refresh_from_db()
    assert road.department_code == "power"
    assert Department.objects.filter(code="power").exists()


def test_similarity_is_shown_in_words():
    assert likeness(0.92) == "very alike"
    assert likeness(0.5) == "very alike"
    assert likeness(0.31) == "close"
    assert likeness(0.227) == "somewhat alike"


def test_register_alike_list_shows_words_not_scores(client, county, member, register, clock):
    register(description="村东头的灌溉水渠破了，水流不到地里")
    client.force_login(member)
    url = reverse("issues:similar_check") + (
        f"?node={county.grid_a1.pk}&description=村东头的灌溉水渠破了，水流不到地里"
    )
    answer = client.get(url).content.decode()
    assert "very alike" in answer
    assert not re.search(r"0\.\d{2,3}", answer)
