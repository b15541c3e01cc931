"""The issue loop in a real browser against gunicorn, as its users meet it: a group leader
registers a yellow problem, the town dispatches it to the water bureau, the bureau accepts with
a note, starts, resolves with a reply, the town revisits and closes. On every issue page each
person sees, every button shown is a step the table allows them (and nothing it allows is
missing), and posting each shown form is never refused (403); the leader's notifications list
each step of the problem they raised. Screenshots at 360 and 1280 px go to /tmp/shots/issues/.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from minqing.lib.testing_live import served, shell_json

PASSWORD = "Kp7q-Xm3z-R8tw"
SHOTS = Path(os.environ.get("MINQING_SHOTS", "/tmp/shots/issues"))  # noqa: S108 - for a person to look at

SETUP = """
import json
from minqing.accounts.models import Role, User
from minqing.accounts.services import role_assign
from minqing.households.services import household_create
from minqing.org.models import Department, Level
from minqing.org.services import node_create

county = node_create(name="谯城区", level=Level.COUNTY, code="341602")
town = node_create(name="古井镇", level=Level.TOWN, parent=county)
village = node_create(name="王庄村", level=Level.VILLAGE, parent=town)
grid = node_create(name="一组", level=Level.GRID, parent=village)
water = Department.objects.create(county=county, name="区水利局", code="water")
Department.objects.create(county=county, name="供电公司", code="power")

def person(username, full_name, role, **where):
    user = User.objects.create_user(username=username, password="PASSWORD", full_name=full_name)
    role_assign(user=user, role=role, **where)
    return user

cadre = person("cadre", "王村干", Role.VILLAGE_CADRE, node=village)
person("townie", "李镇干", Role.TOWN_STAFF, node=town)
person("waterman", "赵水利", Role.DEPARTMENT, department=water)
leader = person("leader", "王组长", Role.GROUP_LEADER, node=grid)
household = household_create(by=cadre, node=grid, data={"number": "A001", "head_name": "王建国"})
print(json.dumps({"household": household.pk}))
""".replace("PASSWORD", PASSWORD)

#: What the table (actions.py) allows each person on the issue now.
ALLOWED = """
import json
from minqing.accounts.models import User
from minqing.issues import actions
from minqing.issues.models import Issue
issue = Issue.objects.get(pk=PK)
user = User.objects.get(username="USERNAME")
print(json.dumps({
    "steps": [s.name for s in actions.allowed_steps(user, issue)],
    "status": issue.status,
}))
"""

ISSUE = """
import json
from minqing.issues.models import Issue
issue = Issue.objects.get()
print(json.dumps({
    "pk": issue.pk,
    "status": issue.status,
    "events": [[e.action, e.actor.username if e.actor else "", e.note] for e in issue.events.all()],
}))
"""


@pytest.fixture
def server(tmp_path):
    with served(tmp_path, "minqing_live_issues", SETUP) as live:
        yield live


def _login(browser, server, username: str, width: int = 360):
    context = browser.new_context(viewport={"width": width, "height": 800}, locale="zh-CN")
    page = context.new_page()
    page.goto(server.url + "/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form:has(input[name=username]) button[type=submit]")
    page.wait_for_load_state()
    assert "/accounts/login/" not in page.url, page.inner_text("body")
    return page


def _shown(page) -> list[str]:
    return page.eval_on_selector_all(
        ".issue-actions details.action", "els => els.map(e => e.id.replace('act-', ''))"
    )


def _check_buttons(page, server, username: str, pk: int) -> list[str]:
    """Every step shown is one the table allows this person, and each shown form, posted with
    input that cannot pass, answers 400 (its input), never 403 (a refusal)."""
    page.goto(f"{server.url}/issues/{pk}/")
    shown = _shown(page)
    table = shell_json(server.env, ALLOWED.replace("PK", str(pk)).replace("USERNAME", username))
    assert shown == table["steps"], (username, table["status"], shown, table["steps"])
    forms = page.eval_on_selector_all(
        ".issue-actions details.action form",
        """forms => forms.map(f => ({
            action: f.getAttribute('action'),
            fields: [...f.elements].map(e => e.name).filter(n => n),
        }))""",
    )
    token = page.eval_on_selector("input[name=csrfmiddlewaretoken]", "e => e.value")
    for form in forms:
        data = {name: "x" * 2001 for name in form["fields"]}  # too long and not a choice
        data.update(csrfmiddlewaretoken=token, version="0")
        answer = page.request.post(server.url + form["action"], form=data)
        assert answer.status == 400, (username, form["action"], answer.status)
    return shown


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def _open(page, step: str) -> None:
    details = page.locator(f"#act-{step}")
    if details.get_attribute("open") is None:
        details.locator("summary").click()


@pytest.mark.slow
@pytest.mark.browser
def test_the_issue_loop_offers_only_what_each_person_may_do(server, browser):
    # The group leader registers a yellow problem of a household of their grid.
    leader = _login(browser, server, "leader")
    leader.goto(f"{server.url}/issues/new/?household={server.data['household']}")
    leader.check("input[name=colour][value=yellow]")
    leader.select_option("#id_category", label="农田水利")
    leader.fill("#id_description", "村东头灌溉水渠破了个大口子，水流不到地里，小麦快旱了")
    leader.click("#register-form button[type=submit]")
    leader.wait_for_url("**/issues/*/")
    pk = shell_json(server.env, ISSUE)["pk"]
    _check_buttons(leader, server, "leader", pk)

    # The village cadre: a yellow issue is the town's; nothing shown that would be refused.
    cadre = _login(browser, server, "cadre")
    _check_buttons(cadre, server, "cadre", pk)

    # The town: a form that fails keeps the text, opens its section and says so on top.
    town = _login(browser, server, "townie")
    shown = _check_buttons(town, server, "townie", pk)
    assert "dispatch" in shown and "accept" not in shown
    _open(town, "merge")
    town.fill("#merge-reason", "和上周登记的是同一条水渠")
    town.click("#act-merge button[type=submit]")
    town.wait_for_selector("#problems")
    assert town.locator("#act-merge").get_attribute("open") is not None
    assert town.input_value("#merge-reason") == "和上周登记的是同一条水渠"
    assert town.locator("#problems a[href='#merge-target']").count() == 1
    _shot(town, "town-failed-form-360.png")
    town.set_viewport_size({"width": 1280, "height": 900})
    _shot(town, "town-failed-form-1280.png")
    town.set_viewport_size({"width": 360, "height": 800})

    # It dispatches to the water bureau (the category's department, chosen already); the
    # village first, which is below a yellow issue's level, asks before sending.
    town.goto(f"{server.url}/issues/{pk}/")
    _open(town, "dispatch")
    assert town.locator("#dispatch-to option:checked").inner_text() == "区水利局"
    town.select_option("#dispatch-to", label="王庄村")
    town.fill("#dispatch-note", "请尽快到现场查看")
    town.click("#act-dispatch button[type=submit]")
    question = town.inner_text("#dispatch-confirm")
    assert "该问题为黄色（镇级），确定派到王庄村吗？" in question
    assert town.input_value("#dispatch-note") == "请尽快到现场查看"
    _shot(town, "town-confirm-level-360.png")
    assert shell_json(server.env, ISSUE)["status"] == "registered"
    town.select_option("#dispatch-to", label="区水利局")
    town.click("#act-dispatch button[type=submit]")
    town.wait_for_url(f"**/issues/{pk}/")
    assert "已派单至区水利局" in town.inner_text(".messages")
    _check_buttons(town, server, "townie", pk)

    # The water bureau accepts with a note, starts, resolves with a reply.
    water = _login(browser, server, "waterman")
    shown = _check_buttons(water, server, "waterman", pk)
    assert shown[0] == "accept" and "dispatch" not in shown
    _open(water, "accept")
    water.fill("#accept-note", "明天上午带人去修")
    _shot(water, "department-360.png")
    water.set_viewport_size({"width": 1280, "height": 900})
    _shot(water, "department-1280.png")
    water.set_viewport_size({"width": 360, "height": 800})
    water.click("#act-accept button[type=submit]")
    water.wait_for_url(f"**/issues/{pk}/")
    assert "已接单" in water.inner_text(".messages")
    _check_buttons(water, server, "waterman", pk)
    _open(water, "start")
    water.fill("#start-note", "已运来水泥和渠板")
    water.click("#act-start button[type=submit]")
    water.wait_for_url(f"**/issues/{pk}/")
    assert "已开始办理" in water.inner_text(".messages")
    _check_buttons(water, server, "waterman", pk)
    _open(water, "resolve")
    water.fill("#resolve-resolution", "更换了破损的三米渠段")
    water.locator("#act-resolve textarea[name^=reply_]").fill("渠段已换好，可以放水了")
    water.click("#act-resolve button[type=submit]")
    water.wait_for_url(f"**/issues/{pk}/")
    assert "已办结" in water.inner_text(".messages")
    _check_buttons(water, server, "waterman", pk)

    # The town records a satisfied revisit and closes it (销号).
    shown = _check_buttons(town, server, "townie", pk)
    assert "revisit" in shown and "close" not in shown
    _open(town, "revisit")
    town.select_option("#revisit-mode", "phone")
    town.check("input[name=result][value=satisfied]")
    town.click("#act-revisit button[type=submit]")
    town.wait_for_url(f"**/issues/{pk}/")
    assert "群众满意" in town.inner_text(".messages")
    shown = _check_buttons(town, server, "townie", pk)
    assert "close" in shown
    _open(town, "close")
    town.click("#act-close button[type=submit]")
    town.wait_for_url(f"**/issues/{pk}/")
    assert "已销号" in town.inner_text(".messages")
    _check_buttons(town, server, "townie", pk)
    _check_buttons(cadre, server, "cadre", pk)
    _check_buttons(water, server, "waterman", pk)

    # The leader hears of each step of the problem they raised.
    leader.goto(server.url + "/notifications/")
    listed = leader.inner_text(".notifications")
    for what in ("已派单至区水利局", "已办结", "已销号"):
        assert f"您反映的问题 #{pk} {what}" in listed, listed
    _shot(leader, "leader-notifications-360.png")

    done = shell_json(server.env, ISSUE)
    assert done["status"] == "closed"
    steps = [(a, who) for a, who, _note in done["events"]]
    assert steps == [
        ("register", "leader"),
        ("dispatch", "townie"),
        ("accept", "waterman"),
        ("start", "waterman"),
        ("resolve", "waterman"),
        ("revisit", "townie"),
        ("close", "townie"),
    ]
    notes = dict((a, note) for a, _who, note in done["events"])
    assert notes["accept"] == "明天上午带人去修" and notes["dispatch"] == "请尽快到现场查看"
    print(json.dumps(steps))
