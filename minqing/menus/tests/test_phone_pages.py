"""The visitor's phone pages: 走访任务 (my tasks of the open campaigns, not done first) and a
household's form (its version's questions as JSON for the script), kept for offline use only
when they are my own; the menus' service worker."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from minqing.accounts.models import Role
from minqing.conftest import make_user
from minqing.menus.models import Task
from minqing.menus.services.answers import AnswerInput, answers_record
from minqing.tests.dbstate import nothing_written

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def zh(msgid: str) -> str:
    """A message as the Chinese pages show it (new ones: once the catalogue has them)."""
    with translation.override("zh-hans"):
        return translation.gettext(msgid)


def _task(menus, household) -> Task:
    return Task.objects.get(campaign=menus.campaign, household=household)


def _json_script(html: str, element_id: str):
    found = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S
    )
    assert found, element_id
    return json.loads(found.group(1))


def _done(menus, task) -> None:
    now = timezone.now()
    [result] = answers_record(
        by=menus.leader,
        records=[
            AnswerInput(
                client_uuid=uuid.uuid4(),
                task_id=task.pk,
                version_id=menus.version.pk,
                outcome="not_reached",
                reason="moved_away",
                finished_at=now,
            )
        ],
    )
    assert result.status == "saved"


def test_the_tasks_list_my_households_not_done_first(client, menus, county):
    a1, a2 = _task(menus, county.household_a1), _task(menus, county.household_a2)
    _done(menus, a1)
    client.force_login(menus.leader)
    answer = client.get(reverse("menus:tasks"), **ZH)
    assert answer.status_code == 200
    assert answer["X-Minqing-Offline"] == "keep"
    html = answer.content.decode()
    assert f"<h1>{zh('Visit tasks')}</h1>" in html
    assert "<b>1/2</b>" in html
    rows = re.findall(r'<li class="(task-\w+)" data-task="(\d+)">', html)
    assert rows == [("task-open", str(a2.pk)), ("task-done", str(a1.pk))]
    assert f'href="{reverse("menus:task", args=[a2.pk])}"' in html
    assert "王秀英" in html and "A002" in html and "二组" in html
    assert "13912345678" not in html  # no phone on a page the phone keeps
    # the page asks the worker to keep the list and the form of each open task
    precache = re.search(r'data-precache="([^"]*)"', html).group(1)
    assert json.loads(precache.replace("&quot;", '"')) == [
        "/menus/tasks/",
        f"/menus/tasks/{a2.pk}/",
    ]
    assert 'src="/static/menus/phone.js"' in html or "menus/phone" in html


def test_another_visitor_sees_only_theirs_and_someone_without_tasks_none(client, menus, county):
    client.force_login(menus.leader_b)
    html = client.get(reverse("menus:tasks"), **ZH).content.decode()
    assert re.findall(r'data-task="(\d+)"', html) == [str(_task(menus, county.household_b1).pk)]
    assert "王建国" not in html
    client.force_login(menus.water_staff)
    html = client.get(reverse("menus:tasks"), **ZH).content.decode()
    assert "data-task=" not in html
    assert zh("No visit tasks for you in an open campaign.") in html


def test_the_form_carries_the_households_version_by_theme(client, menus, county):
    task = _task(menus, county.household_a1)
    client.force_login(menus.leader)
    answer = client.get(reverse("menus:task", args=[task.pk]), **ZH)
    assert answer.status_code == 200
    assert answer["X-Minqing-Offline"] == "keep"
    html = answer.content.decode()
    assert "您好，我是村里的组长，来了解一下家里的情况。" in html
    data = _json_script(html, "menu-task")
    assert data == {
        "task": task.pk,
        "version": menus.version.pk,
        "outcome": "",
        "call_attempts": 0,
        "call_limit": 3,
        "label": "A001 · 王建国",
    }
    form = _json_script(html, "menu-version")
    assert (form["version"], form["number"], form["kind"]) == (menus.version.pk, 1, "rural")
    by_theme = {t["title"]: [q["name"] for q in t["questions"]] for t in form["themes"]}
    assert by_theme == {
        "民生保障": ["insured", "needs", "needs_note", "water_ok", "well_depth"],
        "健康": ["health"],
    }
    questions = {q["name"]: q for t in form["themes"] for q in t["questions"]}
    assert questions["water_ok"] == {
        "name": "water_ok",
        "type": "yes_no",
        "label": "饮水是否正常？",
        "hint": "",
        "note": "",
        "required": False,
        "relevant": None,
        "constraint": None,
        "message": "",
        "choices": [["yes", "是"], ["no", "否"]],
    }
    assert questions["well_depth"]["constraint"] == [
        "and",
        [">=", ["dot"], ["num", 0]],
        ["<=", ["dot"], ["num", 300]],
    ]
    assert questions["well_depth"]["message"] == "请填0到300之间的数"
    assert questions["needs_note"]["relevant"] == ["selected", ["ref", "needs"], "medical"]
    # outcomes, reasons and phone tries as the form offers them
    for word in (
        "入户走访",
        "电话联系",
        "未联系上",
        "已外出/搬走",
        "空房",
        "未同意",
        "无人接听",
        "占线",
        "号码错误",
    ):
        assert word in html, word


def test_an_urban_household_gets_the_urban_version(client, menus, county):
    task = _task(menus, county.household_a2)
    Task.objects.filter(pk=task.pk).update(place_kind="urban")
    client.force_login(menus.leader)
    html = client.get(reverse("menus:task", args=[task.pk]), **ZH).content.decode()
    form = _json_script(html, "menu-version")
    names = [q["name"] for t in form["themes"] for q in t["questions"]]
    assert form["kind"] == "urban" and "well_depth" not in names and "water_ok" in names


def test_a_task_of_another_visitor_is_not_found(client, menus, county):
    other = _task(menus, county.household_b1)
    client.force_login(menus.leader)
    with nothing_written():
        answer = client.get(reverse("menus:task", args=[other.pk]))
    assert answer.status_code == 404
    assert client.get(reverse("menus:task", args=[999999])).status_code == 404


def test_a_village_cadre_may_open_the_form_but_the_phone_does_not_keep_it(client, menus, county):
    cadre = make_user("cadre_a", Role.VILLAGE_CADRE, county.village_a)
    task = _task(menus, county.household_a1)
    client.force_login(cadre)
    answer = client.get(reverse("menus:task", args=[task.pk]))
    assert answer.status_code == 200
    assert "X-Minqing-Offline" not in answer
    assert (
        client.get(reverse("menus:task", args=[_task(menus, county.household_b1).pk])).status_code
        == 404
    )


def test_a_done_household_shows_no_form(client, menus, county):
    task = _task(menus, county.household_a1)
    _done(menus, task)
    client.force_login(menus.leader)
    html = client.get(reverse("menus:task", args=[task.pk]), **ZH).content.decode()
    assert 'id="menu-form"' not in html
    assert "未联系上" in html


def test_the_pages_need_a_login_and_the_worker_does_not(client, menus, county):
    task = _task(menus, county.household_a1)
    for url in (reverse("menus:tasks"), reverse("menus:task", args=[task.pk])):
        answer = client.get(url)
        assert answer.status_code == 302 and "/accounts/login/" in answer.url
    worker = client.get(reverse("menus:service_worker"))
    assert worker.status_code == 200
    assert worker["Content-Type"] == "text/javascript; charset=utf-8"
    script = worker.content.decode()
    assert 'const CACHE = "minqing-menus-v1";' in script
    assert '"/static/menus/phone.js"' in script and '"/static/menus/logic.js"' in script
    assert "{%" not in script


@pytest.mark.parametrize("query", ["?open=abc"])
def test_a_page_with_a_query_is_not_kept(client, menus, county, query):
    task = _task(menus, county.household_a1)
    client.force_login(menus.leader)
    answer = client.get(reverse("menus:task", args=[task.pk]) + query)
    assert answer.status_code == 200 and "X-Minqing-Offline" not in answer


def test_whether_i_have_open_tasks_for_a_link_from_my_households(menus, county):
    from minqing.menus.selectors.phone import has_open_tasks

    assert has_open_tasks(menus.leader) is True
    assert has_open_tasks(menus.water_staff) is False
    _done(menus, _task(menus, county.household_a1))
    _done(menus, _task(menus, county.household_a2))
    assert has_open_tasks(menus.leader) is False
    assert has_open_tasks(menus.leader_b) is True
