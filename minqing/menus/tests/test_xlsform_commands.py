"""Three departments' XLSForm checklists become one menu, exported again as XLSForm that
pyxform converts (the issue's first "done when", through the commands)."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from pyxform.xls2xform import convert

from minqing.accounts.models import Role
from minqing.conftest import make_user
from minqing.menus.models import Checklist, ChecklistState
from minqing.menus.services import authoring
from minqing.menus.spec import FIXED_CHOICES, FormSpec, QType, QuestionSpec
from minqing.menus.xlsform import write_xlsform
from minqing.org.models import Department
from minqing.tests.dbstate import nothing_written


def _form(title, *questions):
    return FormSpec(title, list(questions), themes=sorted({q.theme for q in questions}))


def _yes_no(name, label, theme, **kw):
    return QuestionSpec(
        name, QType.YES_NO, label, theme=theme, choices=list(FIXED_CHOICES[QType.YES_NO]), **kw
    )


def test_three_checklists_become_one_menu_with_an_urban_and_a_rural_version(county, tmp_path):
    organiser = make_user("organiser", Role.COMMAND_CENTRE, county.county)
    forms = {
        "water": _form(
            "水利局",
            _yes_no("water_ok", "饮水是否正常？", "民生保障"),
            _yes_no("irrigation_ok", "灌溉用电是否正常？", "民生保障", applies="rural"),
        ),
        "health": _form(
            "卫健委",
            _yes_no("insured", "是否参加医保？", "健康"),
            _yes_no("drinking_ok", "饮水是否正常", "民生保障"),
        ),
        "police": _form(
            "公安分局", _yes_no("safe", "晚上出行是否安全？", "平安建设", applies="urban")
        ),
    }
    ids = []
    for code, form in forms.items():
        Department.objects.create(county=county.county, name=form.title, code=code)
        path = tmp_path / f"{code}.xlsx"
        write_xlsform(form, path)
        out = io.StringIO()
        call_command(
            "import_xlsform",
            str(path),
            "--department",
            code,
            "--user",
            "organiser",
            stdout=out,
            stderr=io.StringIO(),
        )
        ids.append(int(out.getvalue().strip()))
    checklists = list(Checklist.objects.filter(pk__in=ids).order_by("pk"))
    assert [c.questions.count() for c in checklists] == [2, 2, 1]
    for c in checklists:
        authoring.checklist_submit(by=organiser, checklist=c)
    menu = authoring.menu_create(by=organiser, county=county.county, year=2027, quarter=1)
    version = menu.versions.get()
    groups = [list(p.question_ids) for p in authoring.duplicate_proposals(checklists)]
    authoring.menu_merge(by=organiser, version=version, checklists=checklists, groups=groups)
    authoring.version_approve(by=organiser, version=version)
    authoring.version_publish(by=organiser, version=version)
    assert set(Checklist.objects.values_list("state", flat=True)) == {ChecklistState.MERGED}
    names = sorted(version.questions.values_list("name", flat=True))
    assert names == ["insured", "irrigation_ok", "safe", "water_ok"]
    for variant, expected in (
        ("urban", {"water_ok", "insured", "safe"}),
        ("rural", {"water_ok", "insured", "irrigation_ok"}),
    ):
        out_file = tmp_path / f"menu-{variant}.xlsx"
        call_command(
            "export_xlsform",
            "--menu",
            str(menu.pk),
            "--version",
            variant,
            "--out",
            str(out_file),
            stdout=io.StringIO(),
        )
        xml = convert(xlsform=str(out_file), validate=False).xform
        for name in expected:
            assert f"/{name}" in xml
        assert ({"safe", "irrigation_ok"} - expected).pop() not in xml


def test_a_refused_form_names_its_rows_and_saves_nothing(county, tmp_path):
    make_user("organiser", Role.COMMAND_CENTRE, county.county)
    Department.objects.create(county=county.county, name="水利局", code="water")
    path = tmp_path / "bad.csv"
    path.write_text(
        "survey,,,\n,type,name,label\n,begin_repeat,members,家庭成员\n"
        ",text,name,姓名\n,end_repeat,,\n",
        encoding="utf-8",
    )
    err = io.StringIO()
    with nothing_written(), pytest.raises(CommandError, match="nothing was imported"):
        call_command(
            "import_xlsform",
            str(path),
            "--department",
            "water",
            "--user",
            "organiser",
            stdout=io.StringIO(),
            stderr=err,
        )
    assert err.getvalue() == ("survey row 2, type: Repeated groups (repeats) are not supported.\n")


def test_a_department_of_someone_else_is_refused(county, tmp_path):
    make_user(
        "clerk",
        Role.DEPARTMENT,
        department=Department.objects.create(county=county.county, name="卫健委", code="health"),
    )
    Department.objects.create(county=county.county, name="水利局", code="water")
    path = tmp_path / "water.xlsx"
    write_xlsform(_form("水利局", _yes_no("water_ok", "饮水是否正常？", "民生保障")), path)
    with nothing_written(), pytest.raises(CommandError, match="department"):
        call_command(
            "import_xlsform",
            str(path),
            "--department",
            "water",
            "--user",
            "clerk",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
