"""Visits against a real server: twenty concurrent posts of one record make one row
(docs/SECURITY-BAR.md §17), and the form taken offline in a real browser loses and doubles
nothing."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from minqing.lib.testing_live import served, shell_json

PASSWORD = "Kp7q-Xm3z-R8tw"

SETUP = """
import json
from minqing.accounts.models import Role, User
from minqing.accounts.services import api_token_issue, role_assign
from minqing.contacts.models import LiaisonKind
from minqing.contacts.services import assign, liaison_add
from minqing.households.services import household_create
from minqing.org.models import Level
from minqing.org.services import node_create

county = node_create(name="谯城区", level=Level.COUNTY, code="341602")
town = node_create(name="古井镇", level=Level.TOWN, parent=county)
village = node_create(name="王庄村", level=Level.VILLAGE, parent=town)
grid = node_create(name="一组", level=Level.GRID, parent=village)
cadre = User.objects.create_user(username="cadre", full_name="村干部")
role_assign(user=cadre, role=Role.VILLAGE_CADRE, node=village)
leader = User.objects.create_user(username="leader", password="PASSWORD", full_name="组长")
townie = User.objects.create_user(username="townie", password="PASSWORD", full_name="镇干部")
role_assign(user=townie, role=Role.TOWN_STAFF, node=town)
role_assign(user=leader, role=Role.GROUP_LEADER, node=grid)
households = [
    household_create(by=cadre, node=grid, data={"number": f"A{n:03d}", "head_name": name})
    for n, name in enumerate(["王建国", "王秀英", "王德明"], start=1)
]
liaison_add(by=cadre, node=grid, kind=LiaisonKind.GROUP_LEADER, user=leader)
assign(node=village, by=cadre)
print(json.dumps({
    "households": [h.pk for h in households],
    "token": api_token_issue(user=leader)[1],
}))
""".replace("PASSWORD", PASSWORD)

COUNT = """
import json
from minqing.issues.models import Issue
from minqing.visits.models import Visit
print(json.dumps({
    "visits": sorted(Visit.objects.values_list("notes", flat=True)),
    "uuids": Visit.objects.values("client_uuid").distinct().count(),
    "issues": Issue.objects.count(),
}))
"""


@pytest.fixture
def server(tmp_path):
    with served(tmp_path, "minqing_live", SETUP) as live:
        yield live


def _post(url: str, token: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(  # noqa: S310 - the test's own server
        url + "/api/v1/visits/",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.mark.slow
def test_twenty_concurrent_posts_of_one_record_make_one_visit(server):
    body = {
        "client_uuid": str(uuid.uuid4()),
        "household": server.data["households"][0],
        "mode": "home",
        "visited_at": (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=3)).isoformat(),
        "notes": "同一条记录",
        "problems": [{"colour": "blue", "description": "路灯不亮"}],
    }
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: _post(server.url, server.data["token"], body), range(20)))

    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * 19 + [201], answers
    assert len({answer["id"] for _, answer in answers}) == 1
    assert len({tuple(answer["issues"]) for _, answer in answers}) == 1
    assert shell_json(server.env, COUNT) == {"visits": ["同一条记录"], "uuids": 1, "issues": 1}


def _until(page, predicate: str, seconds: float = 30) -> None:
    """Poll ``predicate`` in the page (wait_for_function would need 'unsafe-eval' in the CSP)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(predicate):
        if time.monotonic() > deadline:
            body = page.evaluate("() => document.body.innerText")
            raise AssertionError(f"timed out waiting for {predicate}; the page shows: {body}")
        time.sleep(0.1)


@pytest.mark.slow
def test_the_visit_form_offline_keeps_two_visits_and_sends_each_once(server, browser):
    first, second, _third = server.data["households"]
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.goto(server.url + "/accounts/login/")
    page.fill("input[name=username]", "leader")
    page.fill("input[name=password]", PASSWORD)
    page.click("form:has(input[name=username]) button[type=submit]")
    page.wait_for_url("**/visits/")
    page.goto(server.url + f"/visits/new/?household={first}")
    # The service worker installs; from the next load on it keeps a copy of the form.
    _until(page, "() => navigator.serviceWorker.getRegistration().then(r => !!(r && r.active))")
    page.reload()
    _until(page, "() => navigator.serviceWorker.controller !== null")
    page.reload()

    context.set_offline(True)
    page.fill("#notes", "离线第一户")
    page.click("#visit-form button[type=submit]")
    page.wait_for_selector("#outbox:not([hidden])")
    # A new form for the next household, opened with no connection at all.
    page.goto(server.url + f"/visits/new/?household={second}")
    assert page.input_value("#household") == str(second)
    page.fill("#notes", "离线第二户")
    page.click("#visit-form button[type=submit]")
    _until(page, "() => document.querySelector('[data-outbox-count]').textContent[0] === '2'")
    assert shell_json(server.env, COUNT)["visits"] == []  # nothing reached the server

    # Keep a copy of what the phone will send, to replay it afterwards (the outbox is sealed:
    # read it as the page does, with the phone's key).
    outbox = page.evaluate(
        """() => new Promise((resolve) => {
            const req = indexedDB.open("minqing");
            req.onsuccess = () => {
              const t = req.result.transaction(["outbox", "keys"]);
              const all = t.objectStore("outbox").getAll();
              const key = t.objectStore("keys").get("outbox");
              t.oncomplete = () => resolve(Promise.all(all.result.map((r) =>
                crypto.subtle.decrypt({ name: "AES-GCM", iv: r.iv,
                  additionalData: new TextEncoder().encode(r.client_uuid) }, key.result, r.ct)
                .then((b) => ({ ...JSON.parse(new TextDecoder().decode(b)),
                  client_uuid: r.client_uuid })))));
            };
        })"""
    )
    assert len(outbox) == 2

    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_selector("#outbox[hidden]", state="attached", timeout=30000)
    assert shell_json(server.env, COUNT)["visits"] == ["离线第一户", "离线第二户"]

    # The same sync again (a lost acknowledgement): the server answers "already saved".
    for item in outbox:
        body = {k: v for k, v in item.items() if k not in ("household_label", "error", "user")}
        status, answer = _post(server.url, server.data["token"], body)
        assert (status, answer["replay"]) == (200, True)
    assert shell_json(server.env, COUNT)["visits"] == ["离线第一户", "离线第二户"]


@pytest.mark.slow
def test_a_group_leader_logs_a_visit_with_a_green_and_a_yellow_issue_in_six_taps(server, browser):
    """A visit with two issues in six taps plus typing, on a 360-px phone, from the page after
    logging in."""
    taps = 0
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        is_mobile=True,
        has_touch=True,
        extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9"},
    )
    page = context.new_page()
    page.goto(server.url + "/accounts/login/")
    page.fill("input[name=username]", "leader")
    page.fill("input[name=password]", PASSWORD)
    page.click("form:has(input[name=username]) button[type=submit]")
    page.wait_for_url("**/visits/")  # the group leader lands on "my households"

    def tap(selector: str) -> None:
        nonlocal taps
        page.tap(selector)
        taps += 1

    tap("ul.households li:first-child a")
    page.wait_for_selector("#visit-form")
    page.fill("#notes", "老两口身体还行，儿子在外打工")
    tap("details.problem:nth-of-type(1) summary")
    tap("details.problem:nth-of-type(1) .colour-green")
    page.fill("#p1_description", "院子里的灯泡坏了")
    page.fill("#p1_resolution", "当场帮忙换了灯泡")
    tap("details.problem:nth-of-type(2) summary")
    tap("details.problem:nth-of-type(2) .colour-yellow")
    page.fill("#p2_description", "村东头灌溉渠堵塞，麦田浇不上水")
    tap("#visit-form button[type=submit]")
    _until(page, "() => document.getElementById('outbox').hidden")
    if os.environ.get("MINQING_SHOTS"):  # a folder to look at the page afterwards
        page.screenshot(path=str(Path(os.environ["MINQING_SHOTS"]) / "visit-6-taps.png"))
    assert taps <= 6

    state = shell_json(server.env, ISSUES)
    assert state["visits"] == 1
    assert sorted(state["issues"]) == [["green", "closed"], ["yellow", "registered"]]

    # The yellow issue waits on the town's dispatch board.
    town = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    town.goto(server.url + "/accounts/login/")
    town.fill("input[name=username]", "townie")
    town.fill("input[name=password]", PASSWORD)
    town.click("form:has(input[name=username]) button[type=submit]")
    town.goto(server.url + "/issues/board/")
    board = town.inner_text("main")
    assert "灌溉渠堵塞" in board and "灯泡" not in board


ISSUES = """
import json
from minqing.issues.models import Issue
from minqing.visits.models import Visit
print(json.dumps({
    "visits": Visit.objects.count(),
    "issues": [[i.colour, i.status] for i in Issue.objects.order_by("colour")],
}))
"""
