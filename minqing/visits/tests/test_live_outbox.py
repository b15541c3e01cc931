"""The visit outbox never traps or loses a record, on a phone against a real server: a refused
visit is corrected and sent, another is discarded after a confirmation, a visit made offline
after a reload reaches the server exactly once, two quick taps make one visit, and "my
households" and a household's visit form open with no network.

A 360-px touch phone in Chinese; gunicorn on a fresh database (minqing/lib/testing_live.py).
Set MINQING_SHOTS to a folder to keep screenshots (360 px and 1280 px) of what was checked.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import zoneinfo
from pathlib import Path

import pytest

from minqing.lib.testing_live import served, shell_json
from minqing.visits.tests.test_live import PASSWORD, SETUP, _until

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")

VISITS = """
import json
from minqing.visits.models import Visit
print(json.dumps([
    [v.household_id, v.notes, v.visited_at.isoformat(), str(v.client_uuid)]
    for v in Visit.objects.order_by("id")
]))
"""

LOOKBACK = """
from minqing.org.models import Level, Node
from minqing.visits.services.cadence import settings_for
from minqing.visits.models import VisitSettings
county = Node.objects.get(level=Level.COUNTY)
VisitSettings.objects.filter(pk=settings_for(county).pk).update(lookback_days=DAYS)
print("{}")
"""

OUTBOX = """() => new Promise((resolve) => {
  const req = indexedDB.open("minqing");
  req.onupgradeneeded = () => req.result.createObjectStore("outbox", { keyPath: "client_uuid" });
  req.onsuccess = () => {
    const all = req.result.transaction("outbox").objectStore("outbox").getAll();
    all.onsuccess = () => resolve(all.result);
  };
})"""


@pytest.fixture
def server(tmp_path):
    with served(tmp_path, "minqing_outbox", SETUP) as live:
        yield live


def _phone(browser, server, timezone_id="Asia/Shanghai"):
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id=timezone_id,
        extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9"},
    )
    page = context.new_page()
    page.goto(server.url + "/accounts/login/")
    page.fill("input[name=username]", "leader")
    page.fill("input[name=password]", PASSWORD)
    page.tap("form:has(input[name=username]) button[type=submit]")
    page.wait_for_url("**/visits/")
    posts: list[int] = []
    page.on(
        "response",
        lambda r: (
            posts.append(r.status)
            if r.request.method == "POST" and r.url.endswith("/api/v1/visits/")
            else None
        ),
    )
    return context, page, posts


def _shot(page, name: str) -> None:
    """Screenshots at 360 px (as the test runs) and at 1280 px, when MINQING_SHOTS is set."""
    folder = os.environ.get("MINQING_SHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(folder) / f"{name}-360.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(Path(folder) / f"{name}-1280.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 740})


def _text(page, selector: str) -> str:
    return page.inner_text(selector).strip()


def _days_ago(days: int) -> str:
    """A datetime-local value in the county's (and this phone's) zone."""
    when = dt.datetime.now(SHANGHAI) - dt.timedelta(days=days)
    return when.replace(hour=9, minute=30).strftime("%Y-%m-%dT%H:%M")


def _tall_enough(page, selector: str) -> None:
    for height in page.eval_on_selector_all(
        selector, "els => els.map(e => e.getBoundingClientRect().height)"
    ):
        assert height >= 44, (selector, height)


@pytest.mark.slow
def test_a_refused_visit_is_corrected_and_sent_and_another_is_discarded(server, browser):
    first, second, _third = server.data["households"]
    context, page, posts = _phone(browser, server)
    page.goto(server.url + f"/visits/new/?household={first}")
    # Meanwhile the county shortens its look-back: the page still says 90 days, so the phone
    # lets the late entry through and the server refuses it.
    shell_json(server.env, LOOKBACK.replace("DAYS", "10"))

    page.fill("#notes", "补录：纸质日记上的走访")
    page.tap("#more summary")
    page.fill("#visited_at", _days_ago(20))
    page.tap("#visit-form button[type=submit]")
    _until(page, "() => !document.getElementById('form-errors').hidden")
    earliest = (dt.datetime.now(SHANGHAI).date() - dt.timedelta(days=10)).isoformat()
    reason = f"这次走访的日期早于{earliest}：本县只接受10天内的补录。"
    assert _text(page, "[data-error-for=visited_at]") == reason
    assert "服务器没有接受这条走访" in _text(page, "#outbox-saved")
    assert page.input_value("#notes") == "补录：纸质日记上的走访"  # what was typed stays
    item = page.locator("#outbox [data-outbox-list] li")
    assert item.count() == 1
    assert reason in item.inner_text() and "王建国" in item.inner_text()
    assert posts == [400]
    _tall_enough(page, "#outbox button, #visit-form button[type=submit]")
    _shot(page, "form-refused")

    # A refused record waits for the user: the retry loop does not send it again unchanged.
    page.evaluate("window.dispatchEvent(new Event('online'))")
    time.sleep(1.5)
    assert posts == [400]

    # Corrected (five days ago) and saved again: the same record, now accepted.
    uuid_before = page.input_value("input[name=client_uuid]")
    page.fill("#visited_at", _days_ago(5))
    page.tap("#visit-form button[type=submit]")
    _until(page, "() => document.getElementById('outbox-saved').textContent === '走访已发送。'")
    assert posts == [400, 201]
    assert page.evaluate(OUTBOX) == []
    assert page.is_hidden("#outbox")
    saved = shell_json(server.env, VISITS)
    assert [(h, n, u) for h, n, _when, u in saved] == [
        (first, "补录：纸质日记上的走访", uuid_before)
    ]
    assert saved[0][2].startswith(_days_ago(5)[:10])
    assert page.input_value("input[name=client_uuid]") != uuid_before  # a new form

    # A page opened now knows the ten days and says so before anything is queued.
    page.goto(server.url + f"/visits/new/?household={second}")
    page.tap("#more summary")
    page.fill("#visited_at", _days_ago(30))
    page.tap("#visit-form button[type=submit]")
    assert _text(page, "[data-error-for=visited_at]") == reason
    assert page.evaluate(OUTBOX) == [] and posts == [400, 201]

    # Another late entry is refused by the server; "my households" lists it with its reason.
    shell_json(server.env, LOOKBACK.replace("DAYS", "90"))
    page.goto(server.url + f"/visits/new/?household={second}")
    shell_json(server.env, LOOKBACK.replace("DAYS", "10"))
    page.fill("#notes", "记错了日子的一条")
    page.tap("#more summary")
    page.fill("#visited_at", _days_ago(30))
    page.tap("#visit-form button[type=submit]")
    _until(page, "() => !document.getElementById('form-errors').hidden")
    page.goto(server.url + "/visits/")
    _until(page, "() => document.querySelectorAll('#outbox li').length === 1")
    assert "服务器未接受" in _text(page, "#outbox li")
    _tall_enough(page, "#outbox li .button, #outbox li button")
    page.tap("#outbox li a.button")  # 打开修改: the form opens with it
    page.wait_for_url("**/visits/new/?open=*")
    _until(page, "() => document.getElementById('notes').value === '记错了日子的一条'")
    assert page.input_value("#household") == str(second)
    assert "早于" in _text(page, "[data-error-for=visited_at]")

    # Discard asks first; "cancel" keeps it.
    page.tap("#outbox li button[data-act=discard]")
    assert _text(page, "#outbox .outbox-confirm") == "确定丢弃这条走访记录？丢弃后无法恢复。"
    page.tap("#outbox li button[data-act=discard-no]")
    assert len(page.evaluate(OUTBOX)) == 1
    page.tap("#outbox li button[data-act=discard]")
    page.tap("#outbox li button[data-act=discard-yes]")
    _until(page, "() => document.getElementById('outbox').hidden")
    assert page.evaluate(OUTBOX) == []
    assert _text(page, "#outbox-saved") == "已丢弃这条走访记录。"
    assert page.input_value("#notes") == ""  # the form let go of it too
    assert posts == [400, 201, 400]
    assert len(shell_json(server.env, VISITS)) == 1
    context.close()


@pytest.mark.slow
def test_offline_after_a_reload_my_households_and_a_form_open_and_the_visit_arrives_once(
    server, browser
):
    first, second, _third = server.data["households"]
    context, page, posts = _phone(browser, server)
    # "My households" online: the service worker keeps it and the visit form of my households.
    _until(
        page,
        """() => caches.open("minqing-visits-v3").then((c) =>
             Promise.all([c.match("/visits/"), c.match("/visits/new/")]))
           .then((hits) => hits.every(Boolean))""",
    )
    context.set_offline(True)
    page.reload()
    assert [_text(page, f"ul.households li:nth-child({n}) b") for n in (1, 2, 3)] == [
        "王建国",
        "王秀英",
        "王德明",
    ]
    _tall_enough(page, "ul.households a")

    page.tap("ul.households li:nth-child(2) a")  # never opened online before
    page.wait_for_url(f"**/visits/new/?household={second}")
    page.wait_for_selector("#visit-form")
    assert page.input_value("#household") == str(second)
    page.fill("#notes", "离线补录，手机没有信号")
    page.tap("#visit-form button[type=submit]")
    _until(
        page, "() => document.getElementById('outbox-saved').textContent.includes('已保存在本机')"
    )
    assert _text(page, "#outbox-saved") == "已保存在本机，联网后自动发送。"
    assert "等待联网发送" in _text(page, "#outbox li") or "没有网络" in _text(page, "#outbox")
    assert "王秀英" in _text(page, "#outbox li")
    assert posts == [] and shell_json(server.env, VISITS) == []
    _shot(page, "form-unsent-offline")

    page.goto(server.url + "/visits/")  # still offline
    _until(page, "() => document.querySelectorAll('#outbox li').length === 1")
    assert "1 条走访记录未发送" in _text(page, "#outbox")
    _shot(page, "mine-offline")

    # The same page reloaded with no network: still one record, nothing sent.
    page.reload()
    _until(page, "() => document.querySelectorAll('#outbox li').length === 1")
    assert posts == []

    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    _until(page, "() => document.getElementById('outbox').hidden")
    page.reload()
    page.evaluate("window.dispatchEvent(new Event('online'))")
    time.sleep(1)
    assert posts == [201]
    saved = shell_json(server.env, VISITS)
    assert [(h, n) for h, n, _when, _u in saved] == [(second, "离线补录，手机没有信号")]
    context.close()


@pytest.mark.slow
def test_two_quick_taps_make_one_visit_on_a_phone_in_another_time_zone(server, browser):
    first, second, _third = server.data["households"]
    # A phone still set to California time, its clock right: not refused.
    context, page, posts = _phone(browser, server, timezone_id="America/Los_Angeles")
    page.goto(server.url + f"/visits/new/?household={first}")
    page.fill("#notes", "点了两次保存")
    opened_with = page.input_value("input[name=client_uuid]")
    state = page.evaluate(
        """() => {
          const button = document.querySelector("#visit-form button[type=submit]");
          button.click();
          const after = [button.disabled, button.textContent];
          button.click();
          return after;
        }"""
    )
    assert state == [True, "正在保存…"]  # disabled, and it says it is waiting
    _until(page, "() => document.getElementById('outbox-saved').textContent === '走访已发送。'")
    assert page.is_enabled("#visit-form button[type=submit]")
    assert posts == [201]
    saved = shell_json(server.env, VISITS)
    assert [(h, n, u) for h, n, _when, u in saved] == [(first, "点了两次保存", opened_with)]
    when = dt.datetime.fromisoformat(saved[0][2])
    assert abs(when - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=2)

    # Two real taps in a row on the next form: still one visit more.
    page.select_option("#household", str(second))
    page.fill("#notes", "又点了两次")
    page.tap("#visit-form button[type=submit]")
    page.tap("#visit-form button[type=submit]", force=True, no_wait_after=True)
    _until(page, "() => document.getElementById('outbox-saved').textContent === '走访已发送。'")
    time.sleep(1)
    saved = shell_json(server.env, VISITS)
    assert [(h, n) for h, n, _when, _u in saved] == [
        (first, "点了两次保存"),
        (second, "又点了两次"),
    ]
    assert posts == [201, 201]
    # What the phone sent carried its own offset: California's, in December.
    context.close()


@pytest.mark.slow
def test_the_form_checks_before_queuing_and_counts_what_is_typed(server, browser):
    first, _second, _third = server.data["households"]
    context, page, posts = _phone(browser, server)
    page.goto(server.url + "/visits/new/")
    page.fill("#notes", "很长" * 1001)
    assert _text(page, "#notes + .counter") == "2002 / 2000"
    page.tap("#visit-form button[type=submit]")
    assert _text(page, "[data-error-for=household]") == "请选择走访的农户。"
    assert _text(page, "[data-error-for=notes]") == "请勿超过2000个字（现在2002个）。"
    page.select_option("#household", str(first))
    page.fill("#notes", "正常长度")
    page.tap("#more summary")
    future = (dt.datetime.now(SHANGHAI) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    page.fill("#visited_at", future)
    page.tap("#visit-form button[type=submit]")
    assert (
        _text(page, "[data-error-for=visited_at]")
        == "走访时间晚于现在，请检查填写的时间和手机的时钟。"
    )
    assert page.evaluate(OUTBOX) == [] and posts == []  # nothing was queued
    assert page.input_value("#notes") == "正常长度"
    context.close()
