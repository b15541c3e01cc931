"""The results page in Debian's chromium, served by a real Minqing (gunicorn, the product's own
Content-Security-Policy) over a county whose answers were recorded through the services: every
chart drawn as SVG, no CSP violation, the numbers one click away; the county, a town and one
household's record at 360 and 1280 px into MINQING_SHOTS (else /tmp/shots/results).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from minqing.lib.testing_live import served

pytestmark = [pytest.mark.browser, pytest.mark.live]

SHOTS = Path(os.environ.get("MINQING_SHOTS") or "/tmp/shots/results")  # noqa: S108
PASSWORD = "Kp7q-Xm3z-R8tw"

SETUP = """
import datetime as dt, json, uuid
from django.utils import timezone
from minqing.accounts.models import Role, User
from minqing.accounts.services import role_assign
from minqing.households.services import household_create
from minqing.menus.models import Checklist, Response, Task
from minqing.issues.models import Category
from minqing.menus.services import authoring, campaigns
from minqing.menus.services.authoring import IssueRule
from minqing.menus.services.answers import AnswerInput, answers_record
from minqing.menus.spec import FIXED_CHOICES, Choice, QType, QuestionSpec
from minqing.org.models import Department, Level
from minqing.org.services import node_create

def user(name, role, node=None, department=None, full=""):
    u = User.objects.create_user(username=name, password="PASSWORD", full_name=full or name)
    role_assign(user=u, role=role, node=node, department=department)
    return u

county = node_create(name="谯城区", level=Level.COUNTY, code="341602")
organiser = user("organiser", Role.COMMAND_CENTRE, county, full="组织部")
water = Department.objects.create(county=county, name="区水利局", code="water")
staff = user("water_staff", Role.DEPARTMENT, department=water, full="水利局干部")
towns = {"古井镇": ["王庄村", "李集村", "青山社区居民委员会"], "华佗镇": ["柳河村", "东风村"],
         "十河镇": ["红旗村"]}
households, cadres = [], {}
n = 0
for t, (town_name, villages) in enumerate(towns.items()):
    town = node_create(name=town_name, level=Level.TOWN, parent=county, sort_key=t)
    for v, village_name in enumerate(villages):
        village = node_create(name=village_name, level=Level.VILLAGE, parent=town, sort_key=v)
        grid = node_create(name="一组", level=Level.GRID, parent=village)
        cadres[village.pk] = user(f"cadre{village.pk}", Role.VILLAGE_CADRE, village)
        for i in range(6 + 2 * v):
            n += 1
            households.append(household_create(by=organiser, node=grid,
                data={"number": f"H{n:03d}", "head_name": f"户主{n}"}))
yes_no = list(FIXED_CHOICES[QType.YES_NO])
checklist = authoring.checklist_save(by=organiser, department=water, title="水利局清单", questions=[
    QuestionSpec("water_ok", QType.YES_NO, "饮水是否正常？", theme="民生保障", choices=yes_no),
    QuestionSpec("service", QType.GOOD_FAIR_BAD, "对供水服务的评价", theme="民生保障",
                 choices=list(FIXED_CHOICES[QType.GOOD_FAIR_BAD])),
    QuestionSpec("source", QType.SELECT_ONE, "主要饮用水来源", theme="民生保障", choices=[
        Choice("tap", "自来水"), Choice("well", "自家水井"), Choice("bottled", "桶装水"),
        Choice("other", "其他")]),
    QuestionSpec("trouble", QType.SELECT_MULTIPLE, "用水遇到过哪些问题？", theme="民生保障",
                 required=False, choices=[Choice("cut", "停水"), Choice("dirty", "水质浑浊"),
                 Choice("pressure", "水压低")]),
    QuestionSpec("depth", QType.INTEGER, "水井深度（米）", theme="民生保障", required=False),
    QuestionSpec("remark", QType.TEXT, "其他意见", theme="民生保障", required=False),
])
authoring.checklist_submit(by=organiser, checklist=checklist)
today = timezone.localdate()
menu = authoring.menu_create(by=organiser, county=county, year=today.year,
                             quarter=(today.month - 1) // 3 + 1, greeting="您好")
version = menu.versions.get()
authoring.menu_merge(by=organiser, version=version, checklists=[checklist])
water_ok = version.questions.get(name="water_ok")
authoring.version_question_save(by=organiser, version=version, question=water_ok,
    spec=water_ok.to_spec(), departments=[water], rule=IssueRule(on=["no"],
    category=Category.objects.get(code="drinking_water"), department=water, colour="yellow"))
authoring.version_approve(by=organiser, version=version)
authoring.version_publish(by=organiser, version=version)
version.refresh_from_db()
campaign = campaigns.campaign_start(by=organiser, version=version, scope=county,
                                    starts_on=today, ends_on=today + dt.timedelta(days=14))
now = timezone.now()
last = None
for i, task in enumerate(Task.objects.filter(campaign=campaign).order_by("pk")):
    if i % 7 == 6:
        continue  # not visited yet
    answers = {
        "water_ok": "no" if i % 5 == 0 else "yes",
        "service": ["good", "good", "fair", "bad", "good"][i % 5],
        "source": ["tap", "tap", "well", "bottled", "tap", "other"][i % 6],
        "trouble": [["cut"], [], ["dirty", "pressure"], ["pressure"]][i % 4],
        "depth": 10 + (i * 7) % 40,
    }
    if i % 3 == 0:
        answers["remark"] = "希望尽快修好管道"
    [result] = answers_record(by=cadres[task.village_id], records=[AnswerInput(
        client_uuid=uuid.uuid4(), task_id=task.pk, version_id=version.pk, outcome="home",
        started_at=now - dt.timedelta(minutes=9), finished_at=now - dt.timedelta(minutes=1),
        answers=answers)])
    assert result.status == "saved", result.errors
    if answers["water_ok"] == "no":
        last = result.response_id
town = county.children.get(name="古井镇")
print(json.dumps({"campaign": campaign.pk, "department": water.pk, "town": town.pk,
                  "response": last}))
""".replace("PASSWORD", PASSWORD)

# Registered before any page script runs: every violation the page reports is kept.
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sourceFile || '') + ':'
                    + (e.lineNumber || 0));
});
"""


@pytest.fixture
def server(tmp_path):
    with served(tmp_path, "minqing_results", SETUP) as live:
        yield live


def _charts(page: Any) -> list[dict[str, Any]]:
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('[data-chart]')).map(el => {
            const svg = el.querySelector('svg');
            return {
                state: el.dataset.chartState || '',
                svg: svg ? 1 : 0,
                width: svg ? Math.round(svg.getBoundingClientRect().width) : 0,
                texts: svg ? Array.from(svg.querySelectorAll('text')).map(t => t.textContent) : [],
            };
        })"""
    )


def test_the_results_page_draws_its_charts_under_the_csp(server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    data = server.data
    base = f"{server.url}/menus/campaigns/{data['campaign']}/results/"
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.add_init_script(WATCH)
    page = context.new_page()
    console: list[str] = []
    errors: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/accounts/login/")
    page.fill("input[name=username]", "water_staff")
    page.fill("input[name=password]", PASSWORD)
    page.click("form:has(input[name=username]) button[type=submit]")
    page.wait_for_load_state()

    for name, query in (("county", ""), ("town", f"?node={data['town']}")):
        answer = page.goto(base + query)
        assert answer is not None and answer.status == 200, answer and answer.status
        assert "content-security-policy" in answer.headers
        page.wait_for_selector("[data-chart] svg")
        charts = _charts(page)
        assert len(charts) == 5, charts  # the text question has a table only
        assert all(c["svg"] == 1 and c["state"] == "drawn" for c in charts), charts
        texts = "|".join(charts[0]["texts"])
        for label in ["古井镇", "华佗镇", "十河镇"] if name == "county" else ["王庄村", "李集村"]:
            assert label in texts, texts
        assert "是" in texts and "否" in texts
        # The numbers behind the first chart, one click away.
        page.locator("details.numbers > summary").first.click()
        assert page.locator("details.numbers").first.get_attribute("open") is not None
        page.screenshot(path=str(SHOTS / f"results-{name}-1280.png"), full_page=True)
        page.set_viewport_size({"width": 360, "height": 740})
        page.wait_for_function(
            "() => document.querySelector('[data-chart] svg').getBoundingClientRect().width <= 340"
        )
        assert all(0 < c["width"] <= 340 for c in _charts(page)), _charts(page)
        page.screenshot(path=str(SHOTS / f"results-{name}-360.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})

    page.goto(f"{server.url}/menus/responses/{data['response']}/")
    assert "饮水是否正常？" in page.content()
    assert page.locator("ul.issues-raised a[href^='/issues/']").count() == 1
    page.screenshot(path=str(SHOTS / "response-1280.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 740})
    page.screenshot(path=str(SHOTS / "response-360.png"), full_page=True)

    assert page.evaluate("window.__csp") == []
    assert not [line for line in console if "Content Security Policy" in line], console
    assert not [line for line in console if line.startswith("error")], console
    assert errors == []
    context.close()
