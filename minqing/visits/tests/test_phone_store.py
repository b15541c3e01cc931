"""What the phone keeps (a lost or shared phone gives little away), in a real browser against a real
server: the kept pages list only the visitor's own households and nothing revealed; a visit queued
offline is ciphertext in IndexedDB under a key the page cannot export; logging out with it unsent
warns and keeps it until it is deliberately sent or discarded, then the phone keeps nothing.

A 360-px phone in Chinese; set MINQING_SHOTS to a folder to keep screenshots.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from minqing.accounts.models import Role
from minqing.conftest import make_user
from minqing.lib.testing_live import served
from minqing.visits.tests.test_live import PASSWORD, _until

NOTE = "低保材料已收齐独有字样"

SETUP = """
import json
from minqing.accounts.models import Role, User
from minqing.accounts.services import role_assign
from minqing.contacts.models import LiaisonKind
from minqing.contacts.services import assign, liaison_add
from minqing.households.services import household_create, resident_add
from minqing.lib.idcard import make_id_number
from minqing.org.models import Level
from minqing.org.services import node_create
import datetime as dt

county = node_create(name="谯城区", level=Level.COUNTY, code="341602")
town = node_create(name="古井镇", level=Level.TOWN, parent=county)
village = node_create(name="王庄村", level=Level.VILLAGE, parent=town)
grid = node_create(name="一组", level=Level.GRID, parent=village)
other_grid = node_create(name="二组", level=Level.GRID, parent=village)
cadre = User.objects.create_user(username="cadre", full_name="村干部")
role_assign(user=cadre, role=Role.VILLAGE_CADRE, node=village)
leader = User.objects.create_user(username="leader", password="PASSWORD", full_name="组长")
role_assign(user=leader, role=Role.GROUP_LEADER, node=grid)
other = User.objects.create_user(username="other", password="PASSWORD", full_name="二组组长")
role_assign(user=other, role=Role.GROUP_LEADER, node=other_grid)
secrets = []
def make(node, number, head, seq):
    phone = f"1391234{seq:04d}"
    hh = household_create(by=cadre, node=node, data={
        "number": number, "head_name": head, "phone": phone, "address": f"王庄{seq}号"})
    born = dt.date(1960, 1, seq)
    id_number = make_id_number("341602", born, seq, "M")
    resident_add(by=cadre, household=hh, data={
        "name": head, "relation": "head", "sex": "M", "birth_date": born,
        "id_number": id_number, "phone": phone})
    secrets.extend([phone, id_number, id_number[6:14]])
    return hh
mine = [make(grid, f"A{n:03d}", name, n) for n, name in enumerate(["王建国", "王秀英"], 1)]
theirs = [make(other_grid, "B001", "李德明", 9)]
liaison_add(by=cadre, node=grid, kind=LiaisonKind.GROUP_LEADER, user=leader)
liaison_add(by=cadre, node=other_grid, kind=LiaisonKind.GROUP_LEADER, user=other)
assign(node=village, by=cadre)
print(json.dumps({
    "mine": [h.pk for h in mine], "theirs": [h.pk for h in theirs], "secrets": secrets,
}))
""".replace("PASSWORD", PASSWORD)

#: Everything the outbox database holds, as stored (ciphertext shown as its bytes).
RAW = """() => new Promise((resolve) => {
  const req = indexedDB.open("minqing");
  req.onupgradeneeded = (e) => { if (e.oldVersion === 0) req.transaction.abort(); };
  req.onerror = () => resolve(null);
  req.onsuccess = () => {
    const db = req.result;
    if (!db.objectStoreNames.contains("outbox")) { db.close(); resolve({ records: [] }); return; }
    const all = db.transaction("outbox").objectStore("outbox").getAll();
    all.onsuccess = () => {
      db.close();
      const bytes = (b) => b ? Array.from(new Uint8Array(b.buffer || b)) : null;
      resolve({ records: all.result.map((r) => ({
        keys: Object.keys(r).sort(), client_uuid: r.client_uuid,
        iv: bytes(r.iv), ct: bytes(r.ct),
        text: JSON.stringify(r) + new TextDecoder("utf-8", { fatal: false }).decode(r.ct),
      })) });
    };
  };
})"""

#: The key as stored: its properties, and whether exportKey gives it out (it must not).
KEY = """() => new Promise((resolve) => {
  const req = indexedDB.open("minqing");
  req.onsuccess = () => {
    const db = req.result;
    const got = db.transaction("keys").objectStore("keys").get("outbox");
    got.onsuccess = () => {
      db.close();
      const key = got.result;
      const about = { type: String(key && key.constructor && key.constructor.name),
        extractable: key.extractable, algorithm: key.algorithm.name,
        length: key.algorithm.length, usages: key.usages.slice().sort() };
      crypto.subtle.exportKey("raw", key)
        .then(() => resolve({ ...about, exported: "raw" }))
        .catch(() => crypto.subtle.exportKey("jwk", key)
          .then(() => resolve({ ...about, exported: "jwk" }))
          .catch((e) => resolve({ ...about, exported: null, error: e.name })));
    };
  };
})"""

KEPT_PAGES = """() => caches.keys().then((names) => Promise.all(names.map((n) =>
  caches.open(n).then((c) => c.keys().then((reqs) => Promise.all(reqs.map((r) =>
    c.match(r).then((res) => res.text()).then((t) => [new URL(r.url).pathname, t])
  )))))).then((lists) => lists.flat()))"""


#: Both pages are kept (the service worker fetched them when "my households" loaded online).
KEPT = """() => caches.open("minqing-visits-v3").then((c) =>
  Promise.all([c.match("/visits/"), c.match("/visits/new/")]))
  .then((hits) => hits.every(Boolean))"""


@pytest.fixture
def server(tmp_path):
    with served(tmp_path, "minqing_phone", SETUP) as live:
        yield live


def _shot(page, name: str) -> None:
    folder = os.environ.get("MINQING_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}-360.png"), full_page=True)


def _phone(browser, server):
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9"},
    )
    page = context.new_page()
    page.goto(server.url + "/accounts/login/")
    page.fill("input[name=username]", "leader")
    page.fill("input[name=password]", PASSWORD)
    page.tap("form:has(input[name=username]) button[type=submit]")
    page.wait_for_url("**/visits/")
    return context, page


@pytest.mark.slow
def test_the_phone_keeps_only_my_households_masked_and_queued_visits_sealed(server, browser):
    mine, theirs = server.data["mine"], server.data["theirs"]
    context, page = _phone(browser, server)
    _until(page, KEPT)
    # A form opened for a named household (a night-visit stop) goes through the service worker
    # online and is not kept: only the plain copy that lists my households is.
    page.reload()
    _until(page, "() => navigator.serviceWorker.controller !== null")
    page.goto(f"{server.url}/visits/new/?household={theirs[0]}&night=1")
    page.goto(server.url + "/visits/")

    kept = dict(page.evaluate(KEPT_PAGES))
    pages = {path: text for path, text in kept.items() if path.startswith("/visits/")}
    assert set(pages) == {"/visits/", "/visits/new/"}
    for path, text in pages.items():
        for pk in mine:
            assert f'value="{pk}"' in text or f"household={pk}" in text, path
        assert "A001" in text and "A002" in text, path
        assert "B001" not in text and "李德明" not in text, path
        assert f'<option value="{theirs[0]}"' not in text and f"household={theirs[0]}" not in text
        for secret in server.data["secrets"]:  # no phone, ID number or birth date at all
            assert secret not in text, (path, secret)

    # Offline, a visit is queued: at rest it is ciphertext under a key nobody can export.
    context.set_offline(True)
    page.goto(f"{server.url}/visits/new/?household={mine[0]}")
    page.fill("#notes", NOTE)
    page.tap("#visit-form button[type=submit]")
    _until(page, "() => document.querySelector('[data-outbox-count]').textContent[0] === '1'")
    raw = page.evaluate(RAW)
    assert len(raw["records"]) == 1
    record = raw["records"][0]
    assert record["keys"] == ["client_uuid", "ct", "iv", "saved_at"]
    assert len(record["iv"]) == 12 and len(record["ct"]) > 16
    for plain in (NOTE, "低保", "王建国", "A001", '"notes"', '"household"'):
        assert plain not in record["text"], plain
    key = page.evaluate(KEY)
    assert key == {
        "type": "CryptoKey",
        "extractable": False,
        "algorithm": "AES-GCM",
        "length": 256,
        "usages": ["decrypt", "encrypt"],
        "exported": None,
        "error": "InvalidAccessError",
    }
    # the outbox itself reads it back: the list names the household
    assert "王建国" in page.inner_text("#outbox")
    _shot(page, "outbox-sealed")

    # Online again but the server does not take visits yet: logging out warns, logs nothing out.
    page.route("**/api/v1/visits/", lambda route: route.abort())
    context.set_offline(False)
    page.goto(server.url + "/visits/")
    page.tap("form[data-phone-logout] button[type=submit]")
    page.wait_for_selector("#phone-logout")
    assert "1" in page.inner_text("#phone-logout")
    _shot(page, "logout-warning")
    assert page.url.endswith("/visits/")
    assert len(page.evaluate(RAW)["records"]) == 1  # nothing destroyed

    # Deliberately discarded: logged out, and the phone keeps nothing.
    page.on("dialog", lambda dialog: dialog.accept())
    with page.expect_response("**/accounts/logout/") as answer:
        page.tap("#phone-logout button[data-act=discard]")
    assert answer.value.all_headers()["clear-site-data"] == '"cache", "storage"'
    page.wait_for_url("**/accounts/login/**")
    _until(page, "() => caches.keys().then((k) => k.length === 0)")
    assert page.evaluate(RAW) is None  # the outbox database and its key are gone
    _shot(page, "logged-out")
    context.close()


@pytest.mark.slow
def test_a_visit_sent_before_logout_leaves_an_empty_phone(server, browser):
    mine = server.data["mine"]
    context, page = _phone(browser, server)
    _until(page, KEPT)
    page.reload()
    _until(page, "() => navigator.serviceWorker.controller !== null")
    context.set_offline(True)
    page.goto(f"{server.url}/visits/new/?household={mine[1]}")
    page.fill("#notes", NOTE)
    page.tap("#visit-form button[type=submit]")
    _until(page, "() => document.querySelector('[data-outbox-count]').textContent[0] === '1'")
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_selector("#outbox[hidden]", state="attached", timeout=30000)
    assert page.evaluate(RAW)["records"] == []
    with page.expect_response("**/accounts/logout/") as answer:
        page.tap("form[data-phone-logout] button[type=submit]")
    assert answer.value.all_headers()["clear-site-data"] == '"cache", "storage"'
    page.wait_for_url("**/accounts/login/**")
    _until(page, "() => caches.keys().then((k) => k.length === 0)")
    assert page.evaluate(RAW) is None
    context.close()


def test_logout_clears_storage_only_when_the_phone_said_nothing_is_unsent(client, county):
    user = make_user("leader", Role.GROUP_LEADER, county.grid_a1)
    client.force_login(user)
    checked = client.post(reverse("accounts:logout"), {"phone": "cleared"})
    assert checked.status_code == 302
    assert checked["Clear-Site-Data"] == '"cache", "storage"'
    other = Client()
    other.force_login(user)
    unchecked = other.post(reverse("accounts:logout"))
    assert unchecked["Clear-Site-Data"] == '"cache"'  # an outbox it did not check stays


def test_only_the_pages_of_my_own_households_are_marked_for_the_phone(client, county):
    user = make_user("leader", Role.GROUP_LEADER, county.grid_a1)
    client.force_login(user)
    assert client.get(reverse("visits:mine"))["X-Minqing-Offline"] == "keep"
    assert client.get(reverse("visits:new"))["X-Minqing-Offline"] == "keep"
    other = client.get(reverse("visits:new"), {"household": county.household_b1.pk})
    assert "X-Minqing-Offline" not in other
    assert "X-Minqing-Offline" not in client.get(
        reverse("households:detail", kwargs={"pk": county.household_a1.pk})
    )
