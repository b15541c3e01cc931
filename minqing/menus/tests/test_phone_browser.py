"""The quarterly menu on a phone against a real server (gunicorn on a fresh database,
minqing/lib/testing_live.py), in Debian's chromium at 360 px, in Chinese, under the product's
CSP: the visitor opens the tasks, the connection goes, two households' forms are filled (one
says "否" to the water question, which raises an issue; skip logic hides and shows a question;
the phone's own check refuses a well 500 m deep), both wait in the outbox, sealed; back online
they are sent once each, and a resend is answered "replay". A record the server refuses (the
household became urban meanwhile: no well question) shows its reason next to the question, is
corrected and sent; another (the household went to another visitor) is discarded after a
confirmation. Screenshots at 360 and 1280 px go to MINQING_SHOTS (else /tmp/shots/phone).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from django.utils import translation

from minqing.lib.testing_live import served, shell_json
from minqing.menus.tests.test_answers_concurrency import SETUP as _BASE

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.slow]

SHOTS = Path(os.environ.get("MINQING_SHOTS") or "/tmp/shots/phone")  # noqa: S108

#: The concurrency test's county, with a third household for leader0 and a password to log in.
SETUP = _BASE.replace(
    "    for i in range(13 + v):",
    "    for i in range(3 if v == 0 else 1):",
).replace(
    'print(json.dumps({"campaign"',
    """from minqing.accounts.models import User
for u in User.objects.all():
    u.set_password("Kp7q-Xm3z-R8tw"); u.save()
print(json.dumps({"campaign\"""",
)

RESPONSES = """
import json
from minqing.issues.models import Issue
from minqing.menus.models import CallAttempt, Response
print(json.dumps({
    "responses": [[r.task_id, r.outcome, r.answers, str(r.client_uuid)]
                  for r in Response.objects.order_by("task_id")],
    "issues": Issue.objects.count(),
    "calls": list(CallAttempt.objects.values_list("task_id", "result")),
}))
"""

WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""

#: What the outbox database holds: the records as stored (sealed), read from the page.
STORED = """() => new Promise((resolve) => {
  const req = indexedDB.open("minqing-menus");
  req.onsuccess = () => {
    const db = req.result;
    if (!db.objectStoreNames.contains("outbox")) { resolve([]); return; }
    const all = db.transaction("outbox").objectStore("outbox").getAll();
    all.onsuccess = () => { db.close(); resolve(all.result.map((r) => ({
      keys: Object.keys(r).sort(), ct: r.ct instanceof ArrayBuffer })));
    };
  };
})"""


@pytest.fixture
def server(tmp_path):
    with served(tmp_path, "minqing_menus_phone", SETUP) as live:
        yield live


def zh(msgid: str) -> str:
    """A message as the Chinese pages show it (new ones: once the catalogue has them)."""
    with translation.override("zh-hans"):
        return translation.gettext(msgid)


def _until(page, predicate: str, seconds: float = 30) -> None:
    """Poll ``predicate`` in the page (wait_for_function would need 'unsafe-eval')."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(predicate):
        if time.monotonic() > deadline:
            body = page.evaluate("() => document.body.innerText")
            raise AssertionError(f"timed out waiting for {predicate}; the page shows: {body}")
        time.sleep(0.1)


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-360.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(SHOTS / f"{name}-1280.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 740})


def _pick(page, question: str, label: str) -> None:
    page.locator(f'[data-q="{question}"] label.pick', has_text=label).first.tap()


def _items(page) -> list[str]:
    return page.eval_on_selector_all(
        "#menu-outbox [data-outbox-list] li", "els => els.map(e => e.innerText)"
    )


def _visible(page, question: str) -> bool:
    return page.evaluate(f"() => !document.querySelector('[data-q=\"{question}\"]').hidden")


def test_the_visitor_answers_offline_and_each_record_reaches_the_server_once(server, browser):
    tasks = server.data["tasks"]["leader0"]
    first, second, third = tasks
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9"},
    )
    context.add_init_script(WATCH)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    bodies: list[dict] = []
    statuses: list[int] = []

    def seen(response) -> None:
        if response.request.method == "POST" and response.url.endswith("/api/v1/menus/answers/"):
            statuses.append(response.status)
            bodies.append(json.loads(response.request.post_data or "{}"))

    page.on("response", seen)
    page.goto(server.url + "/accounts/login/")
    page.fill("input[name=username]", "leader0")
    page.fill("input[name=password]", "Kp7q-Xm3z-R8tw")
    page.tap("form:has(input[name=username]) button[type=submit]")
    page.wait_for_url("**/visits/")

    # Online: the task list asks its worker to keep it and the three forms.
    page.goto(server.url + "/menus/tasks/")
    _until(page, "() => document.getElementById('menu-outbox').dataset.precached === '4'")
    assert page.inner_text("h1") == zh("Visit tasks")
    assert "0/3" in page.inner_text(".menu-campaign .stat")
    _shot(page, "tasks")

    # The connection goes: the pages come from the phone.
    context.set_offline(True)
    page.goto(server.url + f"/menus/tasks/{first}/")
    page.wait_for_selector("#menu-form:not([hidden])")
    _pick(page, "water_ok", "否")
    _pick(page, "insured", "是")
    _pick(page, "health", "好")
    page.fill("#q-well_depth", "20")
    assert not _visible(page, "needs_note")
    _pick(page, "needs", "医疗")
    assert _visible(page, "needs_note")  # skip logic: asked only for medical help
    _pick(page, "needs", "医疗")
    assert not _visible(page, "needs_note")
    _pick(page, "needs", "医疗")
    page.fill("#q-needs_note", "老人慢性病，需要送药")
    _shot(page, "form")
    page.tap("#menu-form button[type=submit]")
    page.wait_for_url("**/menus/tasks/")
    _until(page, "() => document.querySelectorAll('#menu-outbox li').length === 1")

    page.goto(server.url + f"/menus/tasks/{second}/")
    page.wait_for_selector("#menu-form:not([hidden])")
    _pick(page, "water_ok", "是")
    page.fill("#q-well_depth", "500")
    page.tap("#menu-form button[type=submit]")
    _until(page, "() => !document.getElementById('form-errors').hidden")
    assert page.inner_text('[data-error-for="answers.well_depth"]') == "请填0到300之间的数"
    page.fill("#q-well_depth", "12")
    page.tap("#menu-form button[type=submit]")
    page.wait_for_url("**/menus/tasks/")
    _until(page, "() => document.querySelectorAll('#menu-outbox li').length === 2")
    for text in _items(page):
        assert "等待联网" in text, text
    stored = page.evaluate(STORED)
    assert stored == [{"keys": ["client_uuid", "ct", "iv", "saved_at"], "ct": True}] * 2
    assert statuses == []  # nothing left the phone
    # the list marks both households as kept on the phone
    assert (
        page.eval_on_selector_all(
            "li[data-task] [data-task-state]:not([hidden])", "els => els.length"
        )
        == 2
    )

    # Logging out now would lose them: the logout waits, counts them, and leads to this list.
    page.tap("form[data-phone-logout] button[type=submit]")
    page.wait_for_selector("#phone-logout")
    assert "2" in page.inner_text("#phone-logout p")
    assert page.get_attribute("#phone-logout a.button", "href") == "/menus/tasks/"
    page.locator("#phone-logout button", has_text="取消").tap()
    assert page.locator("#phone-logout").count() == 0
    assert len(page.evaluate(STORED)) == 2

    # Meanwhile the second household becomes urban: the well question is not asked there.
    shell_json(
        server.env,
        "from minqing.menus.models import Task; "
        f"Task.objects.filter(pk={second}).update(place_kind='urban'); print('{{}}')",
    )
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    _until(page, "() => document.querySelectorAll('#menu-outbox li').length === 1")
    _until(page, "() => document.querySelector('#menu-outbox li').classList.contains('is-refused')")
    assert statuses == [200]
    assert page.inner_text(f'li[data-task="{first}"] [data-task-state]') == zh("Sent")
    assert page.inner_text(f'li[data-task="{second}"] [data-task-state]') == zh(
        "Saved on this phone"
    )
    assert len(bodies[0]["records"]) == 2
    state = shell_json(server.env, RESPONSES)
    assert [r[:2] for r in state["responses"]] == [[first, "home"]]
    assert state["responses"][0][2] == {
        "water_ok": "no",
        "insured": "yes",
        "health": "good",
        "well_depth": 20,
        "needs": ["medical"],
        "needs_note": "老人慢性病，需要送药",
    }
    assert state["issues"] == 1

    # A waiting phone try beside the refused record (offline again), for the picture.
    context.set_offline(True)
    page.goto(server.url + f"/menus/tasks/{third}/")
    page.wait_for_selector("#menu-form:not([hidden])")
    page.locator("#menu-outcome label.pick", has_text="电话联系").tap()
    page.wait_for_selector("#menu-calls:not([hidden])")
    page.tap('button[data-call="no_answer"]')
    _until(page, "() => document.querySelectorAll('#menu-outbox li').length === 2")
    assert page.inner_text("[data-calls-count]") == zh("Phone tries: %(n)d of %(limit)d") % {
        "n": 1,
        "limit": 3,
    }
    _shot(page, "form-phone")
    page.goto(server.url + "/menus/tasks/")
    _until(page, "() => document.querySelectorAll('#menu-outbox li').length === 2")
    _shot(page, "outbox")
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    _until(page, "() => document.querySelectorAll('#menu-outbox li').length === 1")
    assert shell_json(server.env, RESPONSES)["calls"] == [[third, "no_answer"]]

    # The refused record, opened in the farmyard (the form the phone kept, with the well
    # question): its reason beside the question, corrected, and sent once back online.
    context.set_offline(True)
    page.locator("#menu-outbox li.is-refused a", has_text="打开").tap()
    page.wait_for_selector('[data-error-for="answers.well_depth"]:not([hidden])')
    reason = page.inner_text('[data-error-for="answers.well_depth"]')
    assert reason == "本版问卷中没有这道题。"
    assert page.input_value("#q-well_depth") == "12"  # what was typed stays
    _shot(page, "form-refused")
    page.fill("#q-well_depth", "")
    page.tap("#menu-form button[type=submit]")
    page.wait_for_url("**/menus/tasks/")
    _until(page, "() => document.querySelectorAll('#menu-outbox li.is-refused').length === 0")
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    _until(page, "() => document.getElementById('menu-outbox').hidden")
    state = shell_json(server.env, RESPONSES)
    assert [(r[0], r[2]) for r in state["responses"]] == [
        (first, state["responses"][0][2]),
        (second, {"water_ok": "yes"}),
    ]
    sent = {r["task"]: r for r in bodies[0]["records"]}
    assert state["responses"][1][3] == sent[second]["client_uuid"]  # the same record

    # Sent again as it was (a lost answer): "replay", nothing written.
    replay = page.evaluate(
        """(body) => fetch('/visits/token/').then((r) => r.json()).then((t) =>
            fetch('/api/v1/menus/answers/', {method: 'POST', body: JSON.stringify(body),
              headers: {'Content-Type': 'application/json', 'X-CSRFToken': t.csrf}}))
            .then((r) => r.json())""",
        {"records": [sent[first]]},
    )
    assert [r["status"] for r in replay] == ["replay"]
    assert len(shell_json(server.env, RESPONSES)["responses"]) == 2

    # The third household goes to another visitor: refused, then discarded on purpose.
    page.goto(server.url + f"/menus/tasks/{third}/")
    page.wait_for_selector("#menu-form:not([hidden])")
    shell_json(
        server.env,
        "from minqing.menus.models import Task; from minqing.accounts.models import User; "
        f"Task.objects.filter(pk={third}).update(assignee=User.objects.get(username='leader1'));"
        " print('{}')",
    )
    page.locator("#menu-outcome label.pick", has_text="未联系上").tap()
    page.locator("#menu-reason label.pick", has_text="空房").tap()
    page.tap("#menu-form button[type=submit]")
    _until(page, "() => !document.getElementById('form-errors').hidden")
    assert "本次走访中，这户不归您联系。" in page.inner_text("#menu-outbox")
    page.tap("#menu-outbox li.is-refused button[data-act=discard]")
    page.tap("#menu-outbox li.is-refused button[data-act=discard-yes]")
    _until(page, "() => document.getElementById('menu-outbox').hidden")
    assert page.evaluate(STORED) == []
    assert len(shell_json(server.env, RESPONSES)["responses"]) == 2

    assert page.evaluate("window.__csp") == []
    assert errors == []
    context.close()
