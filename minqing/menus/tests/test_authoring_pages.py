"""The authoring pages: the index, the checklist editor and upload, the merge page, the version
editor and its downloads — happy paths with exact values, and the refusals (nothing written)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from minqing.accounts.models import Role
from minqing.conftest import make_user
from minqing.menus.models import Checklist, ChecklistState, Menu, MenuVersion, VersionState
from minqing.menus.services import authoring, campaigns
from minqing.menus.tests.conftest import yes_no
from minqing.menus.tests.test_xlsform import OK_ROW, SURVEY_HEAD, xlsx
from minqing.org.models import Department, Level
from minqing.org.services import node_create
from minqing.tests.dbstate import nothing_written

pytestmark = pytest.mark.django_db


def question(i: int, **kw) -> dict[str, str]:
    base = {
        "qtype": "yes_no",
        "name": f"q_{i}",
        "label_zh": f"问题{i}",
        "label_en": "",
        "hint_zh": "",
        "hint_en": "",
        "theme": "民生保障",
        "applies": "both",
        "choices": "",
        "relevant": "",
        "constraint": "",
        "constraint_message_zh": "",
        "constraint_message_en": "",
        "visitor_note": "",
    } | kw
    return {f"q{i}-{k}": v for k, v in base.items()}


def checklist_post(title: str, *questions: dict[str, str], **kw) -> dict[str, str]:
    data = {"title": title, "count": str(len(questions)), "action": "save"} | kw
    for q in questions:
        data |= q
    return data


# --------------------------------------------------------------------------- the index


def test_index_shows_the_organiser_the_menus_and_every_checklist(client, menus):
    client.force_login(menus.organiser)
    page = client.get(reverse("menus:index"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "2027 Q1 quarterly menu" in text
    assert reverse("menus:menu_new") in text
    assert reverse("menus:version", args=[menus.menu.pk, 1]) in text
    checklists = [c.title for c in page.context["checklists"]]
    assert checklists == ["卫健委清单", "民政局清单", "水利局清单"]
    assert [m.campaign_count for m in page.context["menus"]] == [1]


def test_index_shows_department_staff_only_their_checklists(client, menus):
    client.force_login(menus.water_staff)
    page = client.get(reverse("menus:index"))
    assert page.status_code == 200
    assert [c.title for c in page.context["checklists"]] == ["水利局清单"]
    assert page.context["composer"] is False
    assert reverse("menus:menu_new") not in page.content.decode()


def test_index_refuses_a_user_with_neither_right(client, menus):
    """A group leader composes nothing, writes no checklist and watches no place's progress:
    their tasks are on the phone."""
    client.force_login(menus.leader_b)
    page = client.get(reverse("menus:index"))
    assert page.status_code == 403
    assert "organisation department" in page.content.decode()


def test_a_village_cadre_finds_the_campaign_at_their_village(client, menus, owner, county):
    client.force_login(owner)
    page = client.get(reverse("menus:index"))
    html = page.content.decode()
    assert page.status_code == 200
    progress = reverse("menus:campaign", args=[menus.campaign.pk])
    assert f'href="{progress}?node={county.village_a.pk}"' in html
    assert reverse("menus:paper_entry", args=[menus.campaign.pk]) in html
    assert reverse("menus:menu_new") not in html  # composes nothing
    assert reverse("menus:results", args=[menus.campaign.pk]) not in html  # no department


def test_a_village_cadre_lists_only_the_campaigns_that_reach_their_village(
    client, menus, owner, county
):
    campaigns.campaign_close(by=menus.organiser, campaign=menus.campaign)
    window = {"starts_on": menus.campaign.starts_on, "ends_on": menus.campaign.ends_on}
    elsewhere = campaigns.campaign_start(
        by=menus.organiser, version=menus.version, scope=county.town_b, **window
    )
    theirs = campaigns.campaign_start(
        by=menus.organiser, version=menus.version, scope=county.town_a, **window
    )
    client.force_login(owner)
    html = client.get(reverse("menus:index")).content.decode()
    for reaching in (menus.campaign, theirs):  # over the county, over their town
        assert f'href="{reverse("menus:campaign", args=[reaching.pk])}?node=' in html
    assert reverse("menus:campaign", args=[elsewhere.pk]) not in html
    assert elsewhere.title not in html
    # the command centre lists all three
    client.force_login(menus.organiser)
    html = client.get(reverse("menus:index")).content.decode()
    for c in (menus.campaign, theirs, elsewhere):
        assert reverse("menus:campaign", args=[c.pk]) in html


# --------------------------------------------------------------------------- checklists


def test_a_clerk_writes_a_checklist_and_submits_it(client, menus):
    client.force_login(menus.water_staff)
    assert client.get(reverse("menus:checklist_new")).status_code == 200
    data = checklist_post(
        "二季度水利清单",
        question(
            0,
            qtype="select_one",
            name="source",
            label_zh="家里用什么水？",
            label_en="Water source",
            hint_zh="看一下水缸",
            choices="tap | 自来水 | Tap\nwell | 井水",
            applies="rural",
            visitor_note="别忘了问水质",
        ),
        question(
            1, name="boil", label_zh="喝开水吗？", relevant="${source} = 'well'", applies="rural"
        ),
        department=str(menus.water.pk),
    )
    data["q1-required"] = "1"
    saved = client.post(reverse("menus:checklist_new"), data)
    checklist = Checklist.objects.get(title="二季度水利清单")
    assert saved.status_code == 302 and saved.url == reverse("menus:checklist", args=[checklist.pk])
    assert checklist.department == menus.water and checklist.state == ChecklistState.DRAFT
    rows = list(checklist.questions.values_list("name", "qtype", "applies", "required", "relevant"))
    assert rows == [
        ("source", "select_one", "rural", False, ""),
        ("boil", "yes_no", "rural", True, "${source} = 'well'"),
    ]
    first = checklist.questions.get(name="source")
    assert first.choices == [["tap", "自来水", "Tap"], ["well", "井水", ""]]
    assert (first.label_en, first.hint_zh, first.visitor_note) == (
        "Water source",
        "看一下水缸",
        "别忘了问水质",
    )
    page = client.get(reverse("menus:checklist", args=[checklist.pk])).content.decode()
    assert "tap | 自来水 | Tap\nwell | 井水" in page
    submitted = client.post(reverse("menus:checklist", args=[checklist.pk]), {"action": "submit"})
    assert submitted.status_code == 302
    checklist.refresh_from_db()
    assert checklist.state == ChecklistState.SUBMITTED


def test_add_move_and_delete_reshow_the_form_without_saving(client, menus):
    client.force_login(menus.water_staff)
    base = checklist_post(
        "草稿",
        question(0, label_zh="第一问"),
        question(1, label_zh="第二问"),
        department=str(menus.water.pk),
    )
    with nothing_written():
        moved = client.post(reverse("menus:checklist_new"), base | {"action": "up:1"})
        added = client.post(reverse("menus:checklist_new"), base | {"action": "add"})
        deleted = client.post(reverse("menus:checklist_new"), base | {"action": "delete:0"})
    assert [r["v"]["label_zh"] for r in moved.context["rows"]] == ["第二问", "第一问"]
    assert [r["v"]["label_zh"] for r in added.context["rows"]] == ["第一问", "第二问", ""]
    assert [r["v"]["label_zh"] for r in deleted.context["rows"]] == ["第二问"]
    assert "Not saved yet" in deleted.content.decode()


def test_a_duplicate_name_is_shown_on_its_question_and_nothing_is_saved(client, menus):
    client.force_login(menus.water_staff)
    data = checklist_post(
        "重名清单",
        question(0, name="same", label_zh="第一问"),
        question(1, name="same", label_zh="第二问打的字"),
        department=str(menus.water.pk),
    )
    with nothing_written():
        page = client.post(reverse("menus:checklist_new"), data)
    assert page.status_code == 400
    rows = page.context["rows"]
    assert rows[0]["errors"] == {}
    assert list(rows[1]["errors"]) == ["name"]
    assert "same" in rows[1]["errors"]["name"][0]
    assert 'value="第二问打的字"' in page.content.decode()


def test_skip_logic_naming_an_unknown_question_is_refused(client, menus):
    client.force_login(menus.water_staff)
    data = checklist_post(
        "跳题清单",
        question(0, name="a", label_zh="第一问", relevant="${nobody} = 'yes'"),
        department=str(menus.water.pk),
    )
    with nothing_written():
        page = client.post(reverse("menus:checklist_new"), data)
    assert page.status_code == 400
    errors = page.context["rows"][0]["errors"]
    assert list(errors) == ["relevant"]
    assert "nobody" in errors["relevant"][0]
    assert "${nobody} = &#x27;yes&#x27;" in page.content.decode()


def test_a_stale_revision_says_so_and_keeps_the_typing(client, menus):
    checklist = authoring.checklist_save(
        by=menus.water_staff,
        department=menus.water,
        title="水利草稿",
        questions=[yes_no("a", "一")],
    )
    client.force_login(menus.water_staff)
    opened = checklist.revision
    authoring.checklist_save(
        by=menus.water_staff,
        department=menus.water,
        title="别人改过",
        questions=[yes_no("a", "一")],
        checklist=checklist,
        revision=opened,
    )
    data = checklist_post(
        "我的标题", question(0, name="a", label_zh="我打的字"), revision=str(opened)
    )
    with nothing_written():
        page = client.post(reverse("menus:checklist", args=[checklist.pk]), data)
    assert page.status_code == 409
    text = page.content.decode()
    assert "Someone else saved this checklist" in text
    assert 'value="我打的字"' in text and 'value="我的标题"' in text
    checklist.refresh_from_db()
    assert checklist.title == "别人改过"


def test_another_departments_checklist_is_refused(client, menus):
    health = Checklist.objects.get(department=menus.health)
    client.force_login(menus.water_staff)
    url = reverse("menus:checklist", args=[health.pk])
    with nothing_written():
        assert client.get(url).status_code == 403
        assert client.post(url, {"action": "submit"}).status_code == 403
        assert client.post(url, checklist_post("改", question(0))).status_code == 403
        assert client.get(reverse("menus:checklist_xlsform", args=[health.pk])).status_code == 403


def test_a_submitted_checklist_is_read_only(client, menus):
    water = Checklist.objects.get(department=menus.water)
    client.force_login(menus.water_staff)
    page = client.get(reverse("menus:checklist", args=[water.pk]))
    assert page.status_code == 200
    assert page.context["editable"] is False
    with nothing_written():
        assert client.post(reverse("menus:checklist", args=[water.pk]), {}).status_code == 403


def test_an_upload_makes_a_checklist_and_downloads_as_xlsform(client, menus):
    client.force_login(menus.water_staff)
    blob = xlsx([SURVEY_HEAD, OK_ROW, ["text", "remark", "备注"]])
    page = client.post(
        reverse("menus:checklist_upload"),
        {
            "department": str(menus.water.pk),
            "file": SimpleUploadedFile("水利.xlsx", blob),
        },
    )
    checklist = Checklist.objects.get(source_file="水利.xlsx")
    assert page.status_code == 302 and page.url == reverse("menus:checklist", args=[checklist.pk])
    assert list(checklist.questions.values_list("name", "qtype")) == [
        ("age", "integer"),
        ("remark", "text"),
    ]
    download = client.get(reverse("menus:checklist_xlsform", args=[checklist.pk]))
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment; ")
    assert "filename*=UTF-8''" in download["Content-Disposition"]
    book = load_workbook(io.BytesIO(download.content))
    names = [row[1] for row in book["survey"].iter_rows(min_row=2, values_only=True)]
    assert [n for n in names if n] == ["age", "remark"]


def test_the_notices_of_an_upload_are_shown_after_it(client, menus):
    client.force_login(menus.water_staff)
    blob = xlsx(
        [
            ["type", "name", "label::zh", "label::Swahili (sw)"],
            ["integer", "a", "甲", "moja"],
        ]
    )
    page = client.post(
        reverse("menus:checklist_upload"),
        {"department": str(menus.water.pk), "file": SimpleUploadedFile("sw.xlsx", blob)},
        follow=True,
    )
    assert page.status_code == 200
    shown = [(m.level_tag, str(m)) for m in page.context["messages"]]
    assert shown[0] == ("success", "Imported 1 questions from sw.xlsx.")
    assert len(shown) == 2 and shown[1][0] == "warning"
    assert shown[1][1].startswith("survey row 2, label::Swahili (sw): ")


def test_a_malformed_upload_lists_sheet_row_column_and_saves_nothing(client, menus):
    client.force_login(menus.water_staff)
    blob = xlsx([SURVEY_HEAD, OK_ROW, ["colour", "c", "颜色"]])
    with nothing_written():
        page = client.post(
            reverse("menus:checklist_upload"),
            {"department": str(menus.water.pk), "file": SimpleUploadedFile("坏.xlsx", blob)},
        )
    assert page.status_code == 400
    (r,) = page.context["refusals"]
    assert (r.sheet, r.row, r.column) == ("survey", 3, "type")
    text = page.content.decode()
    assert '<td data-label="Row">3</td>' in text
    assert "Unknown question type “colour”." in text


def test_an_upload_of_another_kind_of_file_is_refused(client, menus):
    client.force_login(menus.water_staff)
    with nothing_written():
        page = client.post(
            reverse("menus:checklist_upload"),
            {"department": str(menus.water.pk), "file": SimpleUploadedFile("a.pdf", b"%PDF")},
        )
    assert page.status_code == 400
    assert page.context["errors"]["file"] == "Upload an XLSForm: a .xlsx, .xls, .csv or .md file."


# --------------------------------------------------------------------------- the menu


def _second_quarter_checklists(menus):
    w = authoring.checklist_save(
        by=menus.organiser,
        department=menus.water,
        title="水利二季度",
        questions=[yes_no("water_ok", "饮水是否正常？", theme="民生保障")],
    )
    h = authoring.checklist_save(
        by=menus.organiser,
        department=menus.health,
        title="卫健二季度",
        questions=[
            yes_no("drinking_ok", "饮水是否正常", theme="民生保障"),
            yes_no("insured", "是否参加医保？", theme="健康"),
        ],
    )
    for c in (w, h):
        authoring.checklist_submit(by=menus.organiser, checklist=c)
    return w, h


def test_a_menu_is_created_and_merged_with_the_proposals(client, menus):
    _second_quarter_checklists(menus)
    client.force_login(menus.organiser)
    made = client.post(
        reverse("menus:menu_new"), {"year": "2027", "quarter": "2", "title": "", "greeting": "您好"}
    )
    menu = Menu.objects.get(year=2027, quarter=2)
    assert made.status_code == 302 and made.url == reverse("menus:menu", args=[menu.pk])
    page = client.get(made.url)
    assert page.status_code == 200
    (proposal,) = page.context["proposals"]
    assert [q.name for _d, q in proposal["questions"]] == ["water_ok", "drinking_ok"]
    ids = [str(c.pk) for c in page.context["checklists"]]
    merged = client.post(made.url, {"checklist": ids, "p0": "accept", "themes": "健康\n民生保障"})
    assert merged.status_code == 302
    assert merged.url == reverse("menus:version", args=[menu.pk, 1])
    version = menu.versions.get()
    assert list(version.questions.values_list("name", flat=True)) == ["insured", "water_ok"]
    assert version.themes == ["健康", "民生保障"]
    water = version.questions.get(name="water_ok")
    assert sorted(d.code for d in water.departments.all()) == ["health", "water"]


def test_keep_separate_merges_both_questions(client, menus):
    _second_quarter_checklists(menus)
    menu = authoring.menu_create(by=menus.organiser, county=menus.menu.county, year=2027, quarter=2)
    client.force_login(menus.organiser)
    page = client.get(reverse("menus:menu", args=[menu.pk]))
    ids = [str(c.pk) for c in page.context["checklists"]]
    client.post(reverse("menus:menu", args=[menu.pk]), {"checklist": ids, "p0": "keep"})
    names = sorted(menu.versions.get().questions.values_list("name", flat=True))
    assert names == ["drinking_ok", "insured", "water_ok"]


def test_a_quarter_with_a_menu_is_refused_on_its_field(client, menus):
    client.force_login(menus.organiser)
    with nothing_written():
        page = client.post(reverse("menus:menu_new"), {"year": "2027", "quarter": "1"})
    assert page.status_code == 400
    assert page.context["errors"]["quarter"] == ["This quarter already has a menu."]


def test_department_staff_cannot_compose(client, menus):
    client.force_login(menus.water_staff)
    with nothing_written():
        assert client.get(reverse("menus:menu_new")).status_code == 403
        assert (
            client.post(reverse("menus:menu_new"), {"year": "2027", "quarter": "3"}).status_code
            == 403
        )
        assert client.get(reverse("menus:menu", args=[menus.menu.pk])).status_code == 403
        url = reverse("menus:version", args=[menus.menu.pk, 1])
        assert client.get(url).status_code == 403
        assert client.post(url, {"action": "approve"}).status_code == 403


def test_another_countys_composer_finds_nothing_here(client, menus):
    """Out of the reader's places a page reads exactly like a missing one (SECURITY §7)."""
    other = node_create(name="涡阳县", level=Level.COUNTY, code="341621")
    stranger = make_user("stranger", Role.COMMAND_CENTRE, other)
    Department.objects.create(county=other, name="涡阳水利局", code="gw")
    client.force_login(stranger)
    water = Checklist.objects.get(department=menus.water)
    with nothing_written():
        assert client.get(reverse("menus:menu", args=[menus.menu.pk])).status_code == 404
        assert client.get(reverse("menus:checklist", args=[water.pk])).status_code == 404
        paper = reverse("menus:version_paper", args=[menus.menu.pk, 1]) + "?version=rural"
        assert client.get(paper).status_code == 404
        post = client.post(
            reverse("menus:version_next", args=[menus.menu.pk, 1]), {"change_note": "x"}
        )
        assert post.status_code == 404
    assert menus.menu.versions.count() == 1


# --------------------------------------------------------------------------- the version


def test_a_published_version_is_read_only_and_refuses_edits(client, menus):
    client.force_login(menus.organiser)
    url = reverse("menus:version", args=[menus.menu.pk, 1])
    page = client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "this version never changes" in text
    assert page.context["editable"] is False and page.context["can_next"] is True
    assert [g["theme"] for g in page.context["groups"]] == ["民生保障", "健康"]
    water = next(q for g in page.context["groups"] for q in g["questions"] if q.name == "water_ok")
    assert water.rule_on_text == "否"
    with nothing_written():
        refused = client.post(
            url, {"action": "settings", "greeting": "改", "themes": "民生保障\n健康"}
        )
    assert refused.status_code == 403


def test_next_version_then_edit_a_rule_approve_and_publish(client, menus):
    client.force_login(menus.organiser)
    made = client.post(
        reverse("menus:version_next", args=[menus.menu.pk, 1]), {"change_note": "加一问"}
    )
    assert made.status_code == 302 and made.url == reverse("menus:version", args=[menus.menu.pk, 2])
    v2 = MenuVersion.objects.get(menu=menus.menu, number=2)
    assert (v2.state, v2.change_note) == (VersionState.DRAFT, "加一问")
    water = v2.questions.get(name="water_ok")
    url = reverse("menus:version", args=[menus.menu.pk, 2]) + f"?edit={water.pk}"
    form = {
        "action": "question",
        "revision": str(v2.revision),
        **{f"q-{k}": v for k, v in question(0, name="water_ok", label_zh="饮水正常吗？").items()},
        "departments": [str(menus.water.pk)],
        "rule_on": ["no"],
        "rule_category": str(water.issue_category_id),
        "rule_department": str(menus.water.pk),
        "rule_colour": "blue",
        "rule_complexity": "general",
    }
    form = {k.replace("q-q0-", "q-"): v for k, v in form.items()}
    with nothing_written():
        refused = client.post(url, form)
    assert refused.status_code == 400
    assert refused.context["q_errors"]["rule_department"] == [
        "A department handles yellow and orange issues; a blue one stays with the village."
    ]
    assert 'value="饮水正常吗？"' in refused.content.decode()
    saved = client.post(url, form | {"rule_colour": "orange"})
    assert saved.status_code == 302
    water.refresh_from_db()
    assert (water.label_zh, water.issue_colour, water.issue_department_id) == (
        "饮水正常吗？",
        "orange",
        menus.water.pk,
    )
    here = reverse("menus:version", args=[menus.menu.pk, 2])
    assert client.post(here, {"action": "approve"}).status_code == 302
    assert client.post(here, {"action": "publish"}).status_code == 302
    v2.refresh_from_db()
    assert v2.state == VersionState.PUBLISHED
    menus.campaign.refresh_from_db()
    assert menus.campaign.version_id == v2.pk


def test_a_stale_version_edit_is_refused(client, menus):
    v2 = authoring.version_next(by=menus.organiser, version=menus.version)
    client.force_login(menus.organiser)
    opened = v2.revision
    authoring.version_settings_save(
        by=menus.organiser, version=v2, greeting="别人的", themes=v2.themes, revision=opened
    )
    url = reverse("menus:version", args=[menus.menu.pk, 2])
    data = {"action": "settings", "revision": str(opened), "greeting": "我打的问候"}
    data["themes"] = "\n".join(v2.themes)
    with nothing_written():
        page = client.post(url, data)
    assert page.status_code == 409
    assert "我打的问候" in page.content.decode()


def test_the_paper_form_and_xlsform_download(client, menus):
    client.force_login(menus.organiser)
    base = reverse("menus:version_paper", args=[menus.menu.pk, 1])
    pdf = client.get(base + "?version=rural")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    name = "谯城区_2027_Q1_quarterly_menu_2027_Q1_·_Rural_version_·_version_1.pdf"
    from urllib.parse import quote

    assert pdf["Content-Disposition"].endswith("filename*=UTF-8''" + quote(name))
    assert client.get(base).status_code == 404
    sheet = client.get(reverse("menus:version_xlsform", args=[menus.menu.pk, 1]) + "?version=urban")
    book = load_workbook(io.BytesIO(sheet.content))
    names = [row[1] for row in book["survey"].iter_rows(min_row=2, values_only=True) if row[1]]
    assert "well_depth" not in names and "water_ok" in names


# --------------------------------------------------------------------------- in the browser

#: A county made through the services for the browser tests (real clock): a published menu
#: with its campaign, next quarter's submitted checklists waiting to be merged, and a draft.
BROWSER_PASSWORD = "Kp7q-Xm3z-R8tw"
BROWSER_SETUP = """
import datetime as dt, json
from django.utils import timezone
from minqing.accounts.models import Role, User
from minqing.accounts.services import role_assign
from minqing.households.services import household_create
from minqing.menus.models import Task
from minqing.menus.services import authoring, campaigns
from minqing.menus.spec import FIXED_CHOICES, Choice, QType, QuestionSpec
from minqing.org.models import Department, Level
from minqing.org.services import node_create

def user(name, role, node=None, department=None, full=""):
    u = User.objects.create_user(username=name, password="PASSWORD", full_name=full or name)
    role_assign(user=u, role=role, node=node, department=department)
    return u

YN = list(FIXED_CHOICES[QType.YES_NO])
GFB = list(FIXED_CHOICES[QType.GOOD_FAIR_BAD])
county = node_create(name="谯城区", level=Level.COUNTY, code="341602")
town = node_create(name="古井镇", level=Level.TOWN, parent=county)
village = node_create(name="王庄村", level=Level.VILLAGE, parent=town)
grid = node_create(name="一组", level=Level.GRID, parent=village)
organiser = user("organiser", Role.COMMAND_CENTRE, county, full="组织部")
water = Department.objects.create(county=county, name="区水利局", code="water")
health = Department.objects.create(county=county, name="区卫健委", code="health")
staff = user("water_staff", Role.DEPARTMENT, department=water, full="水利局干部")
clerk = user("clerk", Role.VILLAGE_CADRE, village, full="村文书")
for n, head in enumerate(["王建国", "王秀英", "王德明"], start=1):
    household_create(by=organiser, node=grid, data={"number": f"A{n:03d}", "head_name": head})

def lists(suffix):
    w = authoring.checklist_save(by=organiser, department=water, title="水利局清单" + suffix,
        questions=[
            QuestionSpec("water_ok", QType.YES_NO, "饮水是否正常？", theme="民生保障", choices=YN),
            QuestionSpec("source", QType.SELECT_ONE, "主要饮用水来源", theme="民生保障",
                choices=[Choice("tap", "自来水"), Choice("well", "自家水井"),
                         Choice("bottled", "桶装水"), Choice("other", "其他")]),
            QuestionSpec("well_depth", QType.INTEGER, "水井深度（米）", theme="民生保障",
                relevant="${source} = 'well'", constraint=". >= 0 and . <= 300",
                constraint_message_zh="请填0到300之间的数"),
        ])
    h = authoring.checklist_save(by=organiser, department=health, title="卫健委清单" + suffix,
        questions=[
            QuestionSpec("drinking_ok", QType.YES_NO, "饮水是否正常", theme="民生保障", choices=YN),
            QuestionSpec("health", QType.GOOD_FAIR_BAD, "家人身体状况", theme="健康", choices=GFB),
            QuestionSpec("needs", QType.SELECT_MULTIPLE, "需要哪些帮助？", theme="健康",
                choices=[Choice("medical", "医疗"), Choice("school", "上学"),
                         Choice("job", "就业")]),
            QuestionSpec("remark", QType.TEXT, "其他意见", theme="健康"),
        ])
    for c in (w, h):
        authoring.checklist_submit(by=organiser, checklist=c)
    return w, h

today = timezone.localdate()
quarter = (today.month - 1) // 3 + 1
w, h = lists("（本季度）")
menu = authoring.menu_create(by=organiser, county=county, year=today.year, quarter=quarter,
                             greeting="您好，我是村里的文书，来了解一下家里的情况。")
version = menu.versions.get()
groups = [list(p.question_ids) for p in authoring.duplicate_proposals([w, h])]
authoring.menu_merge(by=organiser, version=version, checklists=[w, h], groups=groups)
authoring.version_approve(by=organiser, version=version)
authoring.version_publish(by=organiser, version=version)
version.refresh_from_db()
campaign = campaigns.campaign_start(by=organiser, version=version, scope=county,
    starts_on=today - dt.timedelta(days=1), ends_on=today + dt.timedelta(days=14))
lists("（下季度）")
nxt = authoring.menu_create(by=organiser, county=county, year=today.year + (quarter == 4),
                            quarter=quarter % 4 + 1)
draft = authoring.checklist_save(by=staff, department=water, title="水利局补充清单",
    questions=[QuestionSpec("tap_ok", QType.YES_NO, "自来水是否通了？", choices=YN)])
tasks = list(Task.objects.filter(campaign=campaign).order_by("pk").values_list("pk", flat=True))
print(json.dumps({"menu": menu.pk, "next": nxt.pk, "campaign": campaign.pk, "draft": draft.pk,
                  "tasks": tasks}))
""".replace("PASSWORD", BROWSER_PASSWORD)

#: Registered before any page script runs: every CSP violation the page reports is kept.
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""
SHOTS = Path(os.environ.get("MINQING_SHOTS") or "/tmp/shots/authoring")  # noqa: S108


@pytest.fixture
def authoring_server(tmp_path):
    from minqing.lib.testing_live import served

    with served(tmp_path, "minqing_authoring", BROWSER_SETUP) as live:
        yield live


def browser_login(browser: Any, url: str, username: str, width: int = 1280) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    page.goto(url + "/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", BROWSER_PASSWORD)
    page.click("form:has(input[name=username]) button[type=submit]")
    page.wait_for_load_state()
    # The pages in Chinese, as the county reads them.
    chinese = page.locator("form.lang button[value=zh-hans]")
    if chinese.count():
        chinese.click()
        page.wait_for_load_state()
    return page


def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.mark.browser
def test_the_authoring_pages_in_the_browser(authoring_server, browser):
    data = authoring_server.data
    base = authoring_server.url
    page = browser_login(browser, base, "organiser")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(f"{base}/menus/")
    assert "四季菜单" in page.content() or "菜单" in page.content()
    shoot(page, "index")

    page.goto(f"{base}/menus/checklists/{data['draft']}/")
    page.fill("#q0-relevant", "${nobody} = 'yes'")
    page.click("button[name=action][value=save]")
    assert page.locator("fieldset.question .errorlist").count() == 1
    assert page.input_value("#q0-relevant") == "${nobody} = 'yes'"
    shoot(page, "checklist-error")

    page.goto(f"{base}/menus/{data['next']}/")
    assert page.locator("fieldset.proposal").count() == 1
    shoot(page, "merge")

    page.goto(f"{base}/menus/{data['menu']}/v1/")
    assert page.locator("li.menu-question").count() == 6
    shoot(page, "version-published")
    page.click("form.next-form button[type=submit]")
    page.wait_for_load_state()
    assert page.url.endswith(f"/menus/{data['menu']}/v2/")
    page.locator("li.menu-question a.button").first.click()
    page.wait_for_load_state()
    assert page.locator("#editor").count() == 1
    shoot(page, "version-editor")

    pdf = page.request.get(f"{base}/menus/{data['menu']}/v1/paper/?version=rural")
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
    (SHOTS / "paper-rural.pdf").write_bytes(pdf.body())
    assert page.evaluate("() => window.__csp") == []
    assert errors == []
    page.context.close()


def test_a_question_is_added_with_a_per_household_rule_and_deleted(client, menus):
    v2 = authoring.version_next(by=menus.organiser, version=menus.version)
    client.force_login(menus.organiser)
    here = reverse("menus:version", args=[menus.menu.pk, 2])
    fields = question(0, name="roof_ok", label_zh="房屋漏雨吗？", theme="住房安全")
    form = {
        "action": "question",
        "revision": str(v2.revision),
        **{k.replace("q0-", "q-"): v for k, v in fields.items()},
        "departments": [str(menus.civil.pk)],
        "rule_on": ["yes"],
        "rule_category": str(menus.version.questions.get(name="water_ok").issue_category_id),
        "rule_department": "",
        "rule_colour": "blue",
        "rule_complexity": "general",
    }
    added = client.post(here + "?edit=new", form)
    roof = v2.questions.get(name="roof_ok")
    assert added.status_code == 302 and added.url == f"{here}#q-{roof.pk}"
    assert (roof.issue_on, roof.issue_colour, roof.issue_shared) == (["yes"], "blue", False)
    assert [d.code for d in roof.departments.all()] == ["civil"]
    v2.refresh_from_db()
    assert v2.themes[-1] == "住房安全"
    page = client.get(here)
    assert [g["theme"] for g in page.context["groups"]][-1] == "住房安全"
    deleted = client.post(here + f"?edit={roof.pk}", {"action": "delete"})
    assert deleted.status_code == 302
    assert not v2.questions.filter(name="roof_ok").exists()
