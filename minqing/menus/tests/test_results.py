"""The departments' results (views/results.py, selectors/results.py): the numbers equal the
answers recorded through the service, by town, by village and for one village; a department
sees its own questions only; answers stay with the version they answered; the xlsx says the
same; refusals write nothing; the page's query count does not grow with the place."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from decimal import Decimal
from urllib.parse import quote

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from minqing.accounts.models import Role, User
from minqing.conftest import make_user
from minqing.households.services import household_create
from minqing.menus.models import Response, Tally, Task
from minqing.menus.selectors.results import department_results
from minqing.menus.services import authoring
from minqing.menus.services.answers import AnswerInput, Status, answers_record
from minqing.org.models import Department, Level
from minqing.org.services import node_create
from minqing.tests.dbstate import nothing_written


@pytest.fixture
def setup(request, county, clock):
    """The menus fixture with a third household in 王庄村 (before the campaign starts, so it
    has a task), answered for by the village cadre."""
    builder = User.objects.get(username="fixture_builder")
    a3 = household_create(
        by=builder,
        node=county.grid_a2,
        data={"number": "A003", "head_name": "王小红", "address": "王庄村A003号"},
    )
    menus = request.getfixturevalue("menus")
    menus.a3 = a3
    menus.cadre = make_user("cadre_a", Role.VILLAGE_CADRE, county.village_a)
    menus.cadre_b = make_user("cadre_b", Role.VILLAGE_CADRE, county.village_b)
    return menus


def _answers(**kw):
    return {"water_ok": "yes", "insured": "yes", "health": "good", "well_depth": 20} | kw


def _record(menus, by, household, version=None, **answers):
    task = Task.objects.get(campaign=menus.campaign, household=household)
    now = timezone.now()
    [result] = answers_record(
        by=by,
        records=[
            AnswerInput(
                client_uuid=uuid.uuid4(),
                task_id=task.pk,
                version_id=(version or menus.version).pk,
                outcome="home",
                finished_at=now - dt.timedelta(minutes=1),
                started_at=now - dt.timedelta(minutes=7, seconds=30),
                answers=_answers(**answers),
            )
        ],
    )
    assert result.status == Status.SAVED, result.errors
    return Response.objects.get(pk=result.response_id)


def _three(setup, county):
    """王庄村: two 是 and one 否 for 饮水是否正常."""
    _record(
        setup,
        setup.cadre,
        county.household_a1,
        well_depth=20,
        needs=["medical", "job"],
        needs_note="看病远",
    )
    _record(setup, setup.cadre, county.household_a2, well_depth=35, needs=["job"])
    return _record(setup, setup.cadre, setup.a3, water_ok="no", well_depth=11)


def _url(campaign, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse("menus:results", args=[campaign.pk]) + (f"?{query}" if query else "")


def _question(found, name):
    return next(q for q in found.questions if q.question.name == name)


def test_the_numbers_are_the_answers_by_village_town_and_county(setup, county):
    _three(setup, county)
    water = setup.water
    at_village = department_results(
        campaign=setup.campaign, department=water, node=county.village_a
    )
    q = _question(at_village, "water_ok")
    assert [c[0] for c in q.choices] == ["yes", "no"]
    [row] = q.rows
    assert (row.name, row.counts, row.asked, row.shares) == ("王庄村", [2, 1], 3, [66.7, 33.3])

    at_town = department_results(campaign=setup.campaign, department=water, node=county.town_a)
    q = _question(at_town, "water_ok")
    assert [(r.name, r.counts, r.asked) for r in q.rows] == [("王庄村", [2, 1], 3)]
    assert (q.total.counts, q.total.asked) == ([2, 1], 3)

    at_county = department_results(campaign=setup.campaign, department=water, node=county.county)
    q = _question(at_county, "water_ok")
    assert at_county.by == "town"
    # in the tree's order (sort key, then name)
    assert [(r.name, r.counts, r.asked, r.shares) for r in q.rows] == [
        ("华佗镇", [0, 0], 0, [None, None]),
        ("古井镇", [2, 1], 3, [66.7, 33.3]),
    ]
    depth = _question(at_county, "well_depth")
    assert (depth.kind, depth.total.asked, depth.total.sum, depth.total.mean) == (
        "number",
        3,
        Decimal(66),
        Decimal("22.00"),
    )
    # The department's own questions only (the shared 饮水 question belongs to both).
    assert [q.question.name for q in at_county.questions] == ["water_ok", "well_depth"]


def test_a_multiple_choice_share_is_of_the_households_that_answered(setup, county):
    _three(setup, county)
    found = department_results(
        campaign=setup.campaign, department=setup.civil, node=county.village_a
    )
    needs = _question(found, "needs")
    [row] = needs.rows
    # 2 households answered (the third was not asked); 就业 twice, 医疗 once: over 100%.
    assert (row.counts, row.asked, row.shares) == ([1, 0, 2], 2, [50.0, 0.0, 100.0])
    note = _question(found, "needs_note")
    assert (note.kind, note.rows[0].asked) == ("text", 1)
    assert (
        Tally.objects.get(question=needs.question, village=county.village_a, choice="").count == 2
    )


def test_the_page_shows_charts_and_tables_of_the_departments_questions(client, setup, county):
    _three(setup, county)
    client.force_login(setup.water_staff)
    page = client.get(_url(setup.campaign, node=county.town_a.pk))
    assert page.status_code == 200
    html = page.content.decode()
    assert "饮水是否正常？" in html and "水井深度（米）" in html
    assert "是否参加医保" not in html and "家人身体状况" not in html and "需要哪些帮助" not in html
    assert html.count('data-chart="chart-') == 2
    water_ok = setup.version.questions.get(name="water_ok")
    assert f'<script id="chart-{water_ok.pk}" type="application/json">' in html
    # the table behind the chart, one click away
    assert '<details class="numbers">' in html
    assert '<td class="num">2 <span class="muted share">(66.7%)</span></td>' in html
    assert '<td class="num">1 <span class="muted share">(33.3%)</span></td>' in html
    assert "<style" not in html and " style=" not in html
    chart = page.context["questions"][0]["chart"]
    assert chart["yAxis"]["data"] == ["All", "王庄村"]
    assert [s["name"] for s in chart["series"]] == ["Yes", "No"]
    assert chart["series"][0]["data"] == [{"value": 66.7}, {"value": 66.7}]
    # a village's own page links from the town's
    assert f"node={county.village_a.pk}" in html


def test_a_version_two_change_keeps_version_one_answers_under_version_one(client, setup, county):
    _record(setup, setup.cadre, county.household_a1)  # 是 under version 1
    nxt = authoring.version_next(by=setup.organiser, version=setup.version)
    q2 = nxt.questions.get(name="water_ok")
    spec = q2.to_spec()
    spec.label_zh = "家里的自来水正常吗？"
    authoring.version_question_save(
        by=setup.organiser,
        version=nxt,
        question=q2,
        spec=spec,
        departments=list(q2.departments.all()),
    )
    authoring.version_approve(by=setup.organiser, version=nxt)
    authoring.version_publish(by=setup.organiser, version=nxt)
    setup.campaign.refresh_from_db()
    _record(setup, setup.cadre, county.household_a2, version=nxt, water_ok="no")
    _record(setup, setup.cadre, setup.a3, version=nxt, water_ok="no")

    v1 = department_results(
        campaign=setup.campaign, department=setup.water, node=county.village_a, version_number=1
    )
    v2 = department_results(campaign=setup.campaign, department=setup.water, node=county.village_a)
    assert v2.version == nxt  # the current one by default
    assert (_question(v1, "water_ok").label, _question(v1, "water_ok").rows[0].counts) == (
        "饮水是否正常？",
        [1, 0],
    )
    assert (_question(v2, "water_ok").label, _question(v2, "water_ok").rows[0].counts) == (
        "家里的自来水正常吗？",
        [0, 2],
    )
    assert [(v.number, v.questions, v.current) for v in v2.versions] == [
        (1, 2, False),
        (2, 2, True),
    ]

    client.force_login(setup.water_staff)
    html = client.get(_url(setup.campaign, node=county.village_a.pk, version=1)).content.decode()
    assert "饮水是否正常？" in html and "家里的自来水正常吗？" not in html
    assert 'aria-current="page" class="on">Version 1' in html
    html = client.get(_url(setup.campaign, node=county.village_a.pk)).content.decode()
    assert "家里的自来水正常吗？" in html and 'aria-current="page" class="on">Version 2' in html


def test_the_xlsx_reads_back_with_the_same_numbers(client, setup, county):
    from openpyxl import load_workbook

    _three(setup, county)
    client.force_login(setup.water_staff)
    answer = client.get(
        reverse("menus:results_xlsx", args=[setup.campaign.pk])
        + f"?department={setup.water.pk}&node={county.town_a.pk}"
    )
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/vnd.openxmlformats")
    name = f"{setup.campaign.title}-区水利局-古井镇-第1版-结果.xlsx"
    assert answer["Content-Disposition"] == f"attachment; filename*=utf-8''{quote(name)}"
    book = load_workbook(io.BytesIO(answer.content))
    sheet = book["结果"]
    assert sheet.freeze_panes == "A2"
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == (
        "版本",
        "地点",
        "题号",
        "问题",
        "选项",
        "户数",
        "回答户数",
        "占比",
        "数值合计",
        "平均值",
    )
    assert rows[1:] == [
        (1, "古井镇（合计）", 1, "饮水是否正常？", "是", 2, 3, 0.6667, None, None),
        (1, "古井镇（合计）", 1, "饮水是否正常？", "否", 1, 3, 0.3333, None, None),
        (1, "王庄村", 1, "饮水是否正常？", "是", 2, 3, 0.6667, None, None),
        (1, "王庄村", 1, "饮水是否正常？", "否", 1, 3, 0.3333, None, None),
        (1, "古井镇（合计）", 2, "水井深度（米）", None, 3, 3, None, 66.0, 22.0),
        (1, "王庄村", 2, "水井深度（米）", None, 3, 3, None, 66.0, 22.0),
    ]
    assert sheet.cell(2, 8).number_format == "0.0%"
    assert sheet.column_dimensions["D"].width == 40
    assert book["导出说明"]["B2"].value == "区水利局"


def test_another_department_or_county_is_refused_and_nothing_written(client, setup, county):
    _three(setup, county)
    other_county = node_create(name="涡阳县", level=Level.COUNTY, code="341621")
    far = make_user("far_organiser", Role.COMMAND_CENTRE, other_county)
    far_water = Department.objects.create(county=other_county, name="县水利局", code="w2")
    far_staff = make_user("far_water", Role.DEPARTMENT, department=far_water)
    xlsx = reverse("menus:results_xlsx", args=[setup.campaign.pk])
    clients = {}
    for user in (setup.water_staff, far, far_staff, setup.leader):
        clients[user.username] = Client()
        clients[user.username].force_login(user)
    with nothing_written():
        client = clients["water_staff"]
        for url in (
            _url(setup.campaign, department=setup.health.pk),
            xlsx + f"?department={setup.health.pk}",
        ):
            refused = client.get(url)
            assert refused.status_code == 403
            assert (
                b"Only this department and the command centre see its results." in refused.content
            )
        # a department of another county is not one of this campaign's
        assert client.get(_url(setup.campaign, department=far_water.pk)).status_code == 404
        for user in (far, far_staff):  # another county's: as if there were no such campaign
            client = clients[user.username]
            assert client.get(_url(setup.campaign, department=setup.water.pk)).status_code == 404
            assert client.get(xlsx + f"?department={setup.water.pk}").status_code == 404
        # a group leader is no department
        assert clients["leader_a"].get(_url(setup.campaign)).status_code == 403
        # a node outside the campaign's county
        client = clients["water_staff"]
        assert client.get(_url(setup.campaign, node=other_county.pk)).status_code == 404
        assert client.get(_url(setup.campaign, node=county.grid_a1.pk)).status_code == 404


def test_the_command_centre_reads_every_department_and_chooses_one(client, setup, county):
    client.force_login(setup.organiser)
    page = client.get(_url(setup.campaign))
    assert page.status_code == 200
    assert [d.code for d in page.context["departments"]] == ["health", "civil", "water"]  # by name
    assert client.get(_url(setup.campaign, department=setup.health.pk)).status_code == 200
    client.force_login(setup.water_staff)  # one department: straight to its results
    page = client.get(_url(setup.campaign))
    assert page.context["results"].department == setup.water


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return [q["sql"][:160] for q in captured.captured_queries]


def test_the_query_count_does_not_grow_with_the_place(client, setup, county):
    client.force_login(setup.water_staff)
    _record(setup, setup.cadre, county.household_a1)
    small_county = _queries(client, _url(setup.campaign))
    small_town = _queries(client, _url(setup.campaign, node=county.town_a.pk))
    # More answers, more villages and more towns (places without answers count as 0).
    _record(setup, setup.cadre, county.household_a2, water_ok="no")
    _record(setup, setup.cadre, setup.a3)
    _record(setup, setup.cadre_b, county.household_b1, water_ok="no")
    for i in range(5):
        node_create(name=f"新村{i}", level=Level.VILLAGE, parent=county.town_a, level_name="村")
        node_create(name=f"新镇{i}", level=Level.TOWN, parent=county.county)
    assert len(_queries(client, _url(setup.campaign))) == len(small_county)
    assert len(_queries(client, _url(setup.campaign, node=county.town_a.pk))) == len(small_town)
    assert len(small_county) <= 17, small_county
    found = department_results(campaign=setup.campaign, department=setup.water, node=county.county)
    rows = {r.name: r.counts for r in _question(found, "water_ok").rows}
    assert (rows["古井镇"], rows["华佗镇"], rows["新镇0"]) == ([2, 1], [0, 1], [0, 0])
    assert len(found.places) == 7


def test_a_households_record_for_its_village_and_its_departments(client, setup, county):
    response = _three(setup, county)  # 否: raises the water issue
    url = reverse("menus:response", args=[response.pk])
    client.force_login(setup.cadre)
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "王小红" in html and "Version 1" in html and "Visited at home" in html
    assert "on the phone" in html and "6 min 30 s" in html
    [raised] = response.raised.all()
    assert reverse("issues:detail", args=[raised.issue_id]) in html
    labels = dict((r["question"].name, r["answer"]) for r in page.context["rows"])
    assert labels == {
        "water_ok": "No",
        "well_depth": "11",
        "insured": "Yes",
        "health": "Good",
        "needs": None,
        "needs_note": None,
    }
    assert html.count("not asked") == 2

    client.force_login(setup.water_staff)  # the department: its own questions, no name
    page = client.get(url)
    assert page.status_code == 200
    assert sorted(r["question"].name for r in page.context["rows"]) == ["water_ok", "well_depth"]
    assert "王小红" not in page.content.decode()
    assert [r.issue_id for r in page.context["raised"]] == [raised.issue_id]

    others = []
    for user in (setup.cadre_b, setup.leader_b):
        others.append(Client())
        others[-1].force_login(user)
    with nothing_written():
        for other in others:
            assert other.get(url).status_code == 404
