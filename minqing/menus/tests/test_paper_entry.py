"""Paper entry (纸质问卷录入): a village clerk types in the households' paper forms."""

from __future__ import annotations

import pytest
from django.urls import reverse

from minqing.accounts.models import Role
from minqing.conftest import make_user
from minqing.menus.models import Progress, Response, Task
from minqing.menus.tests.test_authoring_pages import BROWSER_SETUP, browser_login, shoot
from minqing.tests.dbstate import nothing_written

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(county, menus):
    return make_user("clerk", Role.VILLAGE_CADRE, county.village_a)


def _task(menus, household) -> Task:
    return Task.objects.get(campaign=menus.campaign, household=household)


def _form(task: Task, **answers) -> dict[str, object]:
    data: dict[str, object] = {
        "task": str(task.pk),
        "client_uuid": "6f1c2a9e-0d4b-4c53-9d1e-3a7b8c9d0e1f",
        "outcome": "home",
        "reason": "",
        "visited_at": "2027-02-21T15:30",
    }
    data |= {f"a-{k}": v for k, v in answers.items()}
    return data


def test_the_first_open_household_of_the_place_opens(client, county, menus, clerk):
    client.force_login(clerk)
    page = client.get(reverse("menus:paper_entry", args=[menus.campaign.pk]))
    assert page.status_code == 200
    assert page.context["task"] == _task(menus, county.household_a1)
    assert page.context["open_count"] == 2
    names = [it["q"].name for g in page.context["layout"] for it in g["items"]]
    assert names == ["insured", "needs", "needs_note", "water_ok", "well_depth", "health"]
    numbers = [it["number"] for g in page.context["layout"] for it in g["items"]]
    assert numbers == [1, 2, 3, 4, 5, 6]
    logic = {q["name"]: q["relevant"] for q in page.context["logic"]}
    assert logic["needs_note"] == ["selected", ["ref", "needs"], "medical"]
    text = page.content.decode()
    assert '<script id="pe-logic" type="application/json">' in text
    assert 'data-key="A"' in text


def test_find_a_household_by_its_heads_name(client, county, menus, clerk):
    client.force_login(clerk)
    page = client.get(reverse("menus:paper_entry", args=[menus.campaign.pk]), {"q": "王秀英"})
    assert page.context["task"] == _task(menus, county.household_a2)
    other = client.get(reverse("menus:paper_entry", args=[menus.campaign.pk]), {"q": "李德明"})
    assert other.context["task"] is None and other.context["found"] == []


def test_a_paper_form_is_saved_counted_and_the_next_opens(client, county, menus, clerk):
    client.force_login(clerk)
    task = _task(menus, county.household_a1)
    url = reverse("menus:paper_entry", args=[menus.campaign.pk])
    saved = client.post(
        url,
        _form(task, water_ok="yes", well_depth="12", needs=["medical", "job"], needs_note="看病难"),
        follow=True,
    )
    nxt = _task(menus, county.household_a2)
    assert saved.redirect_chain == [(f"{url}?task={nxt.pk}", 302)]
    assert [str(m) for m in saved.context["messages"]] == ["Entered: 王建国 (A001)."]
    assert saved.context["task"] == nxt
    assert saved.context["v"]["visited_at"] == "2027-02-21T15:30"  # offered again
    response = Response.objects.get(task=task)
    assert response.paper is True
    assert response.entered_by == clerk
    assert response.visitor == menus.leader
    assert response.outcome == "home"
    assert response.answers == {
        "water_ok": "yes",
        "well_depth": 12,
        "needs": ["medical", "job"],
        "needs_note": "看病难",
    }
    village = Progress.objects.get(campaign=menus.campaign, node=county.village_a)
    assert (village.home, village.total) == (1, 2)
    town = Progress.objects.get(campaign=menus.campaign, node=county.town_a)
    assert town.home == 1


def test_not_reached_needs_its_reason(client, county, menus, clerk):
    client.force_login(clerk)
    task = _task(menus, county.household_a1)
    url = reverse("menus:paper_entry", args=[menus.campaign.pk])
    with nothing_written():
        page = client.post(url, _form(task, water_ok="yes") | {"outcome": "not_reached"})
    assert page.status_code == 400
    assert page.context["errors"]["reason"] == (
        "Say why nobody was reached: moved away, empty house, refused."
    )
    saved = client.post(url, _form(task) | {"outcome": "not_reached", "reason": "moved_away"})
    assert saved.status_code == 302
    assert Response.objects.get(task=task).reason == "moved_away"
    village = Progress.objects.get(campaign=menus.campaign, node=county.village_a)
    assert village.not_reached == 1


def test_a_wrong_type_answer_is_refused_next_to_its_question(client, county, menus, clerk):
    client.force_login(clerk)
    task = _task(menus, county.household_a1)
    url = reverse("menus:paper_entry", args=[menus.campaign.pk])
    with nothing_written():
        page = client.post(url, _form(task, water_ok="yes", well_depth="十二米"))
    assert page.status_code == 400
    items = {it["q"].name: it for g in page.context["layout"] for it in g["items"]}
    assert items["well_depth"]["error"] != ""
    assert items["water_ok"]["error"] == ""
    assert items["well_depth"]["value"] == "十二米"
    assert [c["checked"] for c in items["water_ok"]["choices"]] == [True, False]
    text = page.content.decode()
    assert 'value="十二米"' in text
    assert "Nothing was saved." in text


def test_a_task_outside_the_clerks_place_is_refused(client, county, menus, clerk):
    client.force_login(clerk)
    task = _task(menus, county.household_b1)
    url = reverse("menus:paper_entry", args=[menus.campaign.pk])
    with nothing_written():
        assert client.get(url, {"task": task.pk}).status_code == 404
        assert client.post(url, _form(task, water_ok="yes")).status_code == 404
    assert Response.objects.count() == 0


def test_a_user_without_an_entry_role_is_refused(client, county, menus):
    client.force_login(menus.water_staff)
    with nothing_written():
        page = client.get(reverse("menus:paper_entry", args=[menus.campaign.pk]))
    assert page.status_code == 403


def test_a_clerk_of_another_village_sees_only_theirs(client, county, menus):
    other = make_user("clerk_b", Role.VILLAGE_CADRE, county.village_b)
    client.force_login(other)
    page = client.get(reverse("menus:paper_entry", args=[menus.campaign.pk]))
    assert page.context["task"] == _task(menus, county.household_b1)
    assert page.context["open_count"] == 1


@pytest.fixture
def authoring_server(tmp_path):
    from minqing.lib.testing_live import served

    with served(tmp_path, "minqing_paper_entry", BROWSER_SETUP) as live:
        yield live


@pytest.mark.browser
def test_paper_entry_by_keyboard_with_skip_logic_in_the_browser(authoring_server, browser):
    data = authoring_server.data
    base = authoring_server.url
    page = browser_login(browser, base, "clerk")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    url = f"{base}/menus/campaigns/{data['campaign']}/paper/"
    page.goto(url)
    assert "A001" in page.inner_text(".pe-household")
    depth = page.locator("#pe-well_depth")
    assert depth.is_hidden()  # asked only when the source is a well
    page.focus("input[name=a-health]")
    page.keyboard.press("b")  # 一般; the focus goes on to the next question
    assert page.evaluate("() => document.activeElement.name") == "a-needs"
    page.keyboard.press("a")  # 医疗 (a multiple choice toggles and stays)
    page.keyboard.press("c")  # 就业
    page.focus("input[name=a-water_ok]")
    page.keyboard.press("b")  # 否
    page.keyboard.press("b")  # 自家水井: the depth is asked now, and has the focus
    assert depth.is_visible()
    assert page.evaluate("() => document.activeElement.name") == "a-well_depth"
    page.keyboard.type("十二")
    page.click("form[data-paper-entry] button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("fieldset#pe-well_depth .errorlist").count() == 1
    assert page.input_value("input[name=a-well_depth]") == "十二"
    assert page.locator("input[name=a-needs]:checked").count() == 2
    shoot(page, "paper-entry-error")
    page.fill("input[name=a-well_depth]", "12")
    page.click("form[data-paper-entry] button[type=submit]")
    page.wait_for_load_state()
    assert "王建国" in page.inner_text("ul.messages")
    assert "A002" in page.inner_text(".pe-household")
    shoot(page, "paper-entry")
    assert page.evaluate("() => window.__csp") == []
    assert errors == []
    page.context.close()


def test_the_clerk_names_who_went_when_it_was_not_the_visitor(client, county, menus, clerk):
    grid_worker = make_user("grid_worker", Role.GRID_WORKER, county.grid_a1)
    client.force_login(clerk)
    task = _task(menus, county.household_a1)
    url = reverse("menus:paper_entry", args=[menus.campaign.pk])
    page = client.get(url)
    assert [p.username for p in page.context["visitors"]] == ["leader_a", "clerk", "grid_worker"]
    assert page.context["v"]["visitor"] == str(menus.leader.pk)
    with nothing_written():
        refused = client.post(url, _form(task, water_ok="yes") | {"visitor": menus.leader_b.pk})
    assert refused.status_code == 400
    assert refused.context["errors"]["visitor"] == (
        "Choose who went: the household's visitor or a cadre who may answer for it."
    )
    saved = client.post(url, _form(task, water_ok="yes") | {"visitor": grid_worker.pk})
    assert saved.status_code == 302
    response = Response.objects.get(task=task)
    assert (response.visitor, response.entered_by) == (grid_worker, clerk)


def test_the_campaigns_paper_form_prints_for_its_clerks_and_visitors_only(
    client, county, menus, clerk
):
    url = reverse("menus:paper_form", args=[menus.campaign.pk])
    for user in (clerk, menus.leader):
        client.force_login(user)
        pdf = client.get(url, {"version": "rural"})
        assert pdf.status_code == 200, user.username
        assert pdf["Content-Type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF-")
        assert "attachment" in pdf["Content-Disposition"]
        assert client.get(url, {"version": "town"}).status_code == 404
    # the links where they are needed: the entry page and the visitor's task list
    client.force_login(clerk)
    entry = client.get(reverse("menus:paper_entry", args=[menus.campaign.pk])).content.decode()
    assert f'href="{url}?version=rural"' in entry and f'href="{url}?version=urban"' in entry
    client.force_login(menus.leader)
    tasks = client.get(reverse("menus:tasks")).content.decode()
    assert f'href="{url}?version=rural"' in tasks
    # a department's staff neither visits nor types forms in: refused, nothing written
    client.force_login(menus.water_staff)
    with nothing_written():
        assert client.get(url, {"version": "rural"}).status_code == 403


def test_without_a_font_the_paper_form_says_what_to_install(
    client, menus, clerk, settings, monkeypatch
):
    from minqing.contacts import card_print

    settings.MINQING_CJK_FONT = ""
    monkeypatch.delenv("MINQING_CJK_FONT", raising=False)
    monkeypatch.setattr(card_print, "CJK_FONT_CANDIDATES", ())
    client.force_login(clerk)
    url = reverse("menus:paper_form", args=[menus.campaign.pk])
    with nothing_written():
        page = client.get(url, {"version": "rural"})
    assert page.status_code == 503
    assert page["Content-Type"].startswith("text/html")
    text = page.content.decode()
    assert "The paper form cannot be printed on this server" in text
    assert "MINQING_CJK_FONT" in text and "paper forms cannot be printed" in text
