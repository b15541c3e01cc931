"""XLSForm in and out (minqing.menus.xlsform): what a form reads as, every refusal on its sheet,
row and column, the notices, the round trip, pyxform's conversion and real forms. Pure: no
database."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyxform.xls2xform import convert

from minqing.menus import xlsform
from minqing.menus.errors import MenuErrorCode as C
from minqing.menus.spec import (
    FIXED_CHOICES,
    GOOD_FAIR_BAD_CHOICES,
    YES_NO_CHOICES,
    Applies,
    Choice,
    FormSpec,
    QType,
    QuestionSpec,
)
from minqing.menus.xlsform import (
    ReadResult,
    Refusal,
    XLSFormRefused,
    read_xlsform,
    write_xlsform,
)

FORMS = Path(__file__).parent / "forms"

SURVEY_HEAD = ["type", "name", "label"]
OK_ROW = ["integer", "age", "年龄"]


def xlsx(
    survey: list[list[object]],
    choices: list[list[object]] | None = None,
    settings: list[list[object]] | None = None,
    **other: list[list[object]],
) -> bytes:
    """An .xlsx of these sheets; each sheet's first row is its header."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "survey"
    for row in survey:
        ws.append(row)
    for title, rows in (("choices", choices), ("settings", settings), *other.items()):
        if rows is None:
            continue
        sheet = wb.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def refused(blob: bytes, filename: str = "form.xlsx") -> list[Refusal]:
    with pytest.raises(XLSFormRefused) as info:
        read_xlsform(blob, filename)
    refusals = info.value.refusals
    assert refusals
    assert all(r.reason for r in refusals)
    return refusals


def places(refusals: list[Refusal]) -> list[tuple[str, int | None, str, str]]:
    return [(r.sheet, r.row, r.column, r.code) for r in refusals]


# --- Reading --------------------------------------------------------------------------------

ZH, EN = "label::Chinese (zh)", "label::English (en)"


def full_form() -> bytes:
    survey = [
        [
            "type",
            "name",
            ZH,
            EN,
            "hint::中文 (zh)",
            "hint::English (en)",
            "guidance_hint",
            "required",
            "relevance",
            "constraint",
            "constraint_message::中文 (zh)",
            "constraint_message::en",
            "minqing_applies",
            "minqing_theme",
            "appearance",
        ],
        ["start", "start"],
        ["end", "end"],
        ["today", "today"],
        ["deviceid", "deviceid"],
        ["username", "username"],
        ["phonenumber", "phonenumber"],
        ["audit", "audit"],
        ["note", "intro", "请先自我介绍", "Introduce yourself"],
        [
            "integer",
            "age",
            "年龄",
            "Age",
            None,
            None,
            None,
            "no",
            None,
            ". >= 0 and . <= 120",
            "年龄不对",
            "Wrong age",
            "both",
            "基本情况",
        ],
        ["begin_group", "g_life", "民生保障", "Livelihood", None, None, None, None, "${age} >= 0"],
        [
            "select_one yn",
            "water_ok",
            "饮水安全吗？",
            "Is the water safe?",
            None,
            None,
            None,
            "yes",
        ],
        [
            "text",
            "why",
            "为什么？",
            None,
            "说说原因",
            "Say why",
            "不要催促",
            "TRUE",
            "${water_ok} = 'no'",
            None,
            None,
            None,
            "rural",
        ],
        ["begin group", "g_inner", "内层", None, None, None, None, None, "${water_ok} != ''"],
        [
            "select_multiple helps",
            "help",
            "需要什么帮助",
            "Help needed",
            None,
            None,
            None,
            "1",
            None,
            None,
            None,
            None,
            "urban",
            None,
            "minimal",
        ],
        ["end group"],
        ["end_group"],
        ["begin_group", "g_safe", "安全生产"],
        ["select_one gfb", "house", "住房安全", None],
        ["decimal", "area", "面积"],
        ["select_one abc", "pick", "选一个"],
        ["end_group"],
    ]
    choices = [
        ["list_name", "name", ZH, EN],
        ["yn", "yes", "有", "Yep"],
        ["yn", "no", "没有", "Nope"],
        ["helps", "medical", "医疗", "Medical"],
        ["helps", "school", "上学"],
        ["gfb", "good", "好"],
        ["gfb", "fair", "中"],
        ["gfb", "bad", "差"],
        ["abc", "a", "甲"],
        ["abc", "b", "乙"],
    ]
    settings = [["form_title", "form_id", "version"], ["2027年春季菜单", "menu_2027_1", 3]]
    return xlsx(survey, choices, settings)


def test_read_gives_the_form_exactly() -> None:
    result = read_xlsform(full_form(), "spring.xlsx")
    assert isinstance(result, ReadResult)
    assert result.form == FormSpec(
        title="2027年春季菜单",
        form_id="menu_2027_1",
        version="3",
        themes=["基本情况", "民生保障", "安全生产"],
        questions=[
            QuestionSpec("intro", QType.NOTE, "请先自我介绍", "Introduce yourself"),
            QuestionSpec(
                "age",
                QType.INTEGER,
                "年龄",
                "Age",
                theme="基本情况",
                constraint=". >= 0 and . <= 120",
                constraint_message_zh="年龄不对",
                constraint_message_en="Wrong age",
            ),
            QuestionSpec(
                "water_ok",
                QType.YES_NO,
                "饮水安全吗？",
                "Is the water safe?",
                theme="民生保障",
                required=True,
                relevant="${age} >= 0",
                choices=list(YES_NO_CHOICES),
            ),
            QuestionSpec(
                "why",
                QType.TEXT,
                "为什么？",
                hint_zh="说说原因",
                hint_en="Say why",
                visitor_note="不要催促",
                theme="民生保障",
                required=True,
                relevant="(${age} >= 0) and (${water_ok} = 'no')",
                applies=Applies.RURAL,
            ),
            QuestionSpec(
                "help",
                QType.SELECT_MULTIPLE,
                "需要什么帮助",
                "Help needed",
                theme="民生保障",
                required=True,
                relevant="(${age} >= 0) and (${water_ok} != '')",
                applies=Applies.URBAN,
                choices=[Choice("medical", "医疗", "Medical"), Choice("school", "上学")],
            ),
            QuestionSpec(
                "house",
                QType.GOOD_FAIR_BAD,
                "住房安全",
                theme="安全生产",
                choices=list(GOOD_FAIR_BAD_CHOICES),
            ),
            QuestionSpec("area", QType.DECIMAL, "面积", theme="安全生产"),
            QuestionSpec(
                "pick",
                QType.SELECT_ONE,
                "选一个",
                theme="安全生产",
                choices=[Choice("a", "甲"), Choice("b", "乙")],
            ),
        ],
    )
    meta = "Metadata (%s) is not imported: the product records times and devices itself."
    assert [(n.sheet, n.row, n.column, n.code, n.reason) for n in result.notices] == [
        *[
            ("survey", row, "type", C.XLSFORM_UNSUPPORTED, meta % t)
            for row, t in enumerate(
                ["start", "end", "today", "deviceid", "username", "phonenumber", "audit"], 2
            )
        ],
        (
            "survey",
            14,
            ZH,
            C.XLSFORM_UNSUPPORTED,
            "Only the outermost group becomes a theme; this inner group's label is not imported.",
        ),
        (
            "survey",
            15,
            "appearance",
            C.XLSFORM_UNSUPPORTED,
            "This column is not imported; it is first used on this row.",
        ),
    ]


def test_plain_label_is_chinese_and_names_come_from_the_file() -> None:
    blob = xlsx(
        [["type", "name", "label", "hint"], ["integer", "age", "How old?", "years"]],
    )
    result = read_xlsform(blob, "household visit.xlsx")
    assert result.form == FormSpec(
        title="household visit",
        form_id="household visit",
        questions=[QuestionSpec("age", QType.INTEGER, "How old?", hint_zh="years")],
    )
    assert result.notices == []


def test_default_language_decides_the_plain_columns() -> None:
    blob = xlsx(
        [["type", "name", "label", "label::中文 (zh)"], ["integer", "age", "Age", "年龄"]],
        settings=[["default_language"], ["English (en)"]],
    )
    (q,) = read_xlsform(blob).form.questions
    assert (q.label_zh, q.label_en) == ("年龄", "Age")


def test_other_languages_are_noticed_once() -> None:
    blob = xlsx(
        [
            ["type", "name", "label::zh", "label::Swahili (sw)"],
            ["integer", "a", "甲", "moja"],
            ["integer", "b", "乙", "mbili"],
        ]
    )
    result = read_xlsform(blob)
    assert [q.label_zh for q in result.form.questions] == ["甲", "乙"]
    assert places(result.notices) == [("survey", 2, "label::Swahili (sw)", C.XLSFORM_UNSUPPORTED)]


def test_a_greeting_note_first_is_the_greeting() -> None:
    blob = xlsx([SURVEY_HEAD, ["note", "greeting", "您好，我是网格员"], OK_ROW])
    form = read_xlsform(blob).form
    assert form.greeting == "您好，我是网格员"
    assert [q.name for q in form.questions] == ["age"]


def test_sources_path_stream_bytes_xls_csv_md(tmp_path: Path) -> None:
    blob = xlsx([SURVEY_HEAD, OK_ROW])
    path = tmp_path / "a_form.xlsx"
    path.write_bytes(blob)
    assert read_xlsform(path).form.form_id == "a_form"
    assert read_xlsform(str(path)).form.title == "a_form"
    assert read_xlsform(io.BytesIO(blob)).form.questions == [
        QuestionSpec("age", QType.INTEGER, "年龄")
    ]
    md = "| survey |\n| | type | name | label |\n| | integer | age | 年龄 |\n"
    assert read_xlsform(md.encode(), "f.md").form.questions[0].label_zh == "年龄"
    csv = "survey,,,\n,type,name,label\n,integer,age,年龄\n"
    assert read_xlsform(csv.encode(), "f.csv").form.questions[0].name == "age"


# --- Refusals -------------------------------------------------------------------------------

REFUSED_TYPES = [
    "begin_repeat",
    "begin repeat",
    "geopoint",
    "geotrace",
    "geoshape",
    "image",
    "audio",
    "video",
    "file",
    "barcode",
    "background-audio",
    "date",
    "time",
    "dateTime",
    "hidden",
    "acknowledge",
    "trigger",
    "range",
    "rank abc",
    "xml-external",
    "csv-external",
    "select_one_external abc",
    "select_one_from_file villages.csv",
    "select_multiple_from_file villages.csv",
    "select_one abc or_other",
]


@pytest.mark.parametrize("qtype", REFUSED_TYPES)
def test_unsupported_types_are_refused_on_their_row(qtype: str) -> None:
    rows: list[list[object]] = [SURVEY_HEAD, OK_ROW, [qtype, "x", "某题"]]
    if "repeat" in qtype:
        rows.append(["end_repeat"])
    choices = [["list_name", "name", "label"], ["abc", "a", "甲"], ["abc", "b", "乙"]]
    assert places(refused(xlsx(rows, choices))) == [("survey", 3, "type", C.XLSFORM_UNSUPPORTED)]


def test_calculate_is_refused_with_its_calculation() -> None:
    blob = xlsx([[*SURVEY_HEAD, "calculation"], OK_ROW, ["calculate", "c", None, "1 + 1"]])
    assert places(refused(blob)) == [
        ("survey", 3, "calculation", C.XLSFORM_UNSUPPORTED),
        ("survey", 3, "type", C.XLSFORM_UNSUPPORTED),
    ]


def test_unknown_type_is_refused() -> None:
    (r,) = refused(xlsx([SURVEY_HEAD, OK_ROW, ["colour", "c", "颜色"]]))
    assert (r.sheet, r.row, r.column, r.code) == ("survey", 3, "type", C.XLSFORM_INVALID)
    assert r.reason == "Unknown question type “colour”."


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("choice_filter", "a = 1"),
        ("repeat_count", "3"),
        ("media::image", "a.png"),
        ("image::English (en)", "a.png"),
        ("audio", "a.mp3"),
        ("parameters", "max-pixels=100"),
        ("default", "5"),
        ("read_only", "yes"),
        ("trigger", "${age}"),
        ("required", "${age} > 3"),
    ],
)
def test_unsupported_columns_are_refused_on_their_cell(column: str, value: str) -> None:
    blob = xlsx([[*SURVEY_HEAD, column], OK_ROW, ["text", "t", "文字", value]])
    assert places(refused(blob)) == [("survey", 3, column, C.XLSFORM_UNSUPPORTED)]


@pytest.mark.parametrize(
    "expression",
    [
        "pulldata('hh', 'x', 'y', ${age}) = 1",
        "count(instance('abc')/root/item) > 1",
        "jr:choice-name(${age}, '${age}') = 'a'",
        "indexed-repeat(${age}, ${age}, 1) = 2",
    ],
)
@pytest.mark.parametrize("column", ["relevant", "constraint"])
def test_forbidden_functions_are_refused(expression: str, column: str) -> None:
    blob = xlsx([[*SURVEY_HEAD, column], OK_ROW, ["text", "t", "文字", expression]])
    refusals = refused(blob)
    assert places(refusals)[0] == ("survey", 3, column, C.XLSFORM_UNSUPPORTED)
    assert {r.row for r in refusals} == {3}


@pytest.mark.parametrize("sheet", ["entities", "external_choices"])
def test_entities_and_external_choices_sheets_are_refused(sheet: str) -> None:
    blob = xlsx([SURVEY_HEAD, OK_ROW], **{sheet: [["list_name", "label"], ["x", "y"]]})
    assert (sheet, None, "", C.XLSFORM_UNSUPPORTED) in places(refused(blob))


def test_choice_images_duplicates_and_missing_lists() -> None:
    blob = xlsx(
        [SURVEY_HEAD, OK_ROW, ["select_one abc", "s", "选"], ["select_one nolist", "n", "无"]],
        [
            ["list_name", "name", "label", "image"],
            ["abc", "a", "甲", "a.png"],
            ["abc", "b", "乙"],
            ["abc", "a", "丙"],
        ],
    )
    refusals = refused(blob)
    assert places(refusals) == [
        ("survey", 4, "type", C.MISSING_CHOICES),
        ("choices", 2, "image", C.XLSFORM_UNSUPPORTED),
        ("choices", 4, "name", C.XLSFORM_INVALID),
    ]
    assert refusals[0].reason == "The choice list nolist is not on the choices sheet."
    assert refusals[2].reason == "The choice a is already in the list abc, on row 2."


def test_duplicate_and_bad_names() -> None:
    blob = xlsx(
        [SURVEY_HEAD, OK_ROW, ["text", "age", "又一个"], ["text", "bad-name", "坏"]],
    )
    refusals = refused(blob)
    assert places(refusals) == [
        ("survey", 3, "name", C.DUPLICATE_NAME),
        ("survey", 4, "name", C.BAD_NAME),
    ]
    assert refusals[0].reason == "The name age is already used on row 2."


def test_groups_must_match() -> None:
    blob = xlsx([SURVEY_HEAD, ["end_group"], OK_ROW, ["begin_group", "g", "组"]])
    assert places(refused(blob)) == [
        ("survey", 2, "type", C.XLSFORM_INVALID),
        ("survey", 4, "type", C.XLSFORM_INVALID),
    ]


def test_row_without_type_and_bad_applies() -> None:
    blob = xlsx(
        [
            [*SURVEY_HEAD, "minqing_applies"],
            OK_ROW,
            [None, "x", "没有类型"],
            ["text", "t", "文字", "town"],
        ]
    )
    assert places(refused(blob)) == [
        ("survey", 3, "type", C.XLSFORM_INVALID),
        ("survey", 4, "minqing_applies", C.XLSFORM_INVALID),
    ]


def test_comment_and_disabled_rows_are_notices() -> None:
    blob = xlsx(
        [
            [*SURVEY_HEAD, "notes", "disabled"],
            OK_ROW,
            [None, None, None, "just a remark"],
            ["text", "old", "旧题", None, "yes"],
        ]
    )
    result = read_xlsform(blob)
    assert [q.name for q in result.form.questions] == ["age"]
    assert places(result.notices) == [
        ("survey", 3, "type", C.XLSFORM_UNSUPPORTED),
        ("survey", 4, "disabled", C.XLSFORM_UNSUPPORTED),
    ]


def test_check_form_problems_land_on_the_row_and_column_as_written() -> None:
    blob = xlsx(
        [
            ["type", "name", "label", "relevance"],
            OK_ROW,
            ["begin_group", "g", "组", "${nobody} = 1"],
            ["text", "t", "文字"],
            ["end_group"],
            ["text", "u", None, "${ghost} = 'x'"],
        ]
    )
    assert places(refused(blob)) == [
        ("survey", 3, "relevance", C.UNKNOWN_QUESTION),
        ("survey", 6, "label", C.LABEL_REQUIRED),
        ("survey", 6, "relevance", C.UNKNOWN_QUESTION),
    ]


def test_pyxform_error_with_a_row_in_its_message() -> None:
    # pyxform refuses a group and a question of the same name; we do not look at group names.
    blob = xlsx(
        [SURVEY_HEAD, OK_ROW, ["begin_group", "age", "组"], ["text", "t", "文"], ["end_group"]]
    )
    (r,) = refused(blob)
    assert (r.sheet, r.row, r.column, r.code) == ("survey", 3, "name", C.XLSFORM_INVALID)
    assert r.reason.startswith("The XLSForm converter (pyxform) refused it: On the 'survey'")


def test_pyxform_error_without_a_row_gets_one(monkeypatch: pytest.MonkeyPatch) -> None:
    # pyxform says "The survey element named 't' has no label or hint." (no row); check_form
    # would say it too, on the same row, so it is silenced here to see pyxform's alone.
    monkeypatch.setattr(xlsform, "_check_form", lambda form: [])
    blob = xlsx([SURVEY_HEAD, OK_ROW, ["text", "t"]])
    (r,) = refused(blob)
    assert (r.sheet, r.row, r.column, r.code) == ("survey", 3, "name", C.XLSFORM_INVALID)
    assert "has no label or hint" in r.reason


def test_formula_without_value_and_rows_after_the_gap() -> None:
    rows: list[list[object]] = [SURVEY_HEAD, OK_ROW, ["text", "t", "=A1"]]
    rows += [[None]] * 65 + [["text", "late", "太远了"]]
    refusals = refused(xlsx(rows))
    assert places(refusals) == [
        ("survey", 3, "label", C.XLSFORM_INVALID),
        ("survey", 3, "label", C.LABEL_REQUIRED),
        ("survey", 69, "", C.XLSFORM_INVALID),
    ]


def test_not_an_xlsform() -> None:
    (r,) = refused(b"\x00\x01 certainly not a spreadsheet", "menu.xlsx")
    assert (r.sheet, r.row, r.column, r.code) == ("", None, "", C.XLSFORM_UNREADABLE)


def test_refusal_str() -> None:
    assert str(Refusal("survey", 12, "type", "不支持。", C.XLSFORM_UNSUPPORTED)) == (
        "survey row 12, type: 不支持。"
    )
    assert str(Refusal("entities", None, "", "No.", C.XLSFORM_UNSUPPORTED)) == "entities: No."
    assert str(Refusal("", None, "", "Broken.", C.XLSFORM_UNREADABLE)) == "Broken."
    assert str(XLSFormRefused([Refusal("survey", 3, "", "Bad.", "x")])) == "survey row 3: Bad."


# --- Writing --------------------------------------------------------------------------------


def sample_form() -> FormSpec:
    return FormSpec(
        title="四季菜单",
        form_id="menu_1",
        version="3",
        greeting="您好，我是网格员小王。",
        themes=["民生保障", "安全生产"],
        questions=[
            QuestionSpec(
                "age",
                QType.INTEGER,
                "年龄",
                constraint=". >= 0 and . <= 120",
                constraint_message_zh="年龄不对",
                constraint_message_en="Wrong age",
            ),
            QuestionSpec(
                "water_ok",
                QType.YES_NO,
                "饮水安全吗？",
                "Is the water safe?",
                theme="民生保障",
                required=True,
                choices=list(YES_NO_CHOICES),
            ),
            QuestionSpec(
                "why",
                QType.TEXT,
                "=为什么？",
                theme="民生保障",
                relevant="${water_ok} = 'no'",
                visitor_note="注意语气",
                hint_zh="提示",
                hint_en="Hint",
                applies=Applies.RURAL,
            ),
            QuestionSpec(
                "house",
                QType.GOOD_FAIR_BAD,
                "住房",
                theme="安全生产",
                choices=list(GOOD_FAIR_BAD_CHOICES),
            ),
            QuestionSpec(
                "help",
                QType.SELECT_MULTIPLE,
                "需要什么帮助",
                theme="安全生产",
                applies=Applies.URBAN,
                choices=[Choice("a", "医疗"), Choice("b", "教育", "Schooling")],
            ),
            QuestionSpec(
                "same",
                QType.SELECT_ONE,
                "同样的选项",
                theme="安全生产",
                choices=[Choice("a", "医疗"), Choice("b", "教育", "Schooling")],
            ),
        ],
    )


def written(form: FormSpec) -> bytes:
    buf = io.BytesIO()
    write_xlsform(form, buf)
    return buf.getvalue()


def test_written_sheets() -> None:
    wb = openpyxl.load_workbook(io.BytesIO(written(sample_form())))
    assert wb.sheetnames == ["survey", "choices", "settings"]
    rows = list(wb["survey"].iter_rows(values_only=True))
    assert rows[0] == xlsform.SURVEY_COLUMNS
    assert [r[:3] for r in rows[1:]] == [
        ("note", "greeting", "您好，我是网格员小王。"),
        ("integer", "age", "年龄"),
        ("begin_group", "theme_1", "民生保障"),
        ("select_one yes_no", "water_ok", "饮水安全吗？"),
        ("text", "why", "=为什么？"),
        ("end_group", "theme_1", None),
        ("begin_group", "theme_2", "安全生产"),
        ("select_one good_fair_bad", "house", "住房"),
        ("select_multiple help_choices", "help", "需要什么帮助"),
        ("select_one help_choices", "same", "同样的选项"),
        ("end_group", "theme_2", None),
    ]
    # a text starting with "=" stays a text
    assert wb["survey"]["C6"].data_type == "s"
    choices = list(wb["choices"].iter_rows(values_only=True))
    assert choices == [
        ("list_name", "name", "label::Chinese (zh)", "label::English (en)"),
        ("yes_no", "yes", "是", "Yes"),
        ("yes_no", "no", "否", "No"),
        ("good_fair_bad", "good", "好", "Good"),
        ("good_fair_bad", "fair", "一般", "Fair"),
        ("good_fair_bad", "bad", "差", "Bad"),
        ("help_choices", "a", "医疗", None),
        ("help_choices", "b", "教育", "Schooling"),
    ]
    assert list(wb["settings"].iter_rows(values_only=True)) == [
        ("form_title", "form_id", "version", "default_language"),
        ("四季菜单", "menu_1", "3", "Chinese (zh)"),
    ]


def test_round_trip_and_pyxform_converts(tmp_path: Path) -> None:
    form = sample_form()
    blob = written(form)
    xform = convert(xlsform=blob, validate=False, file_type=".xlsx").xform
    assert 'jr:constraintMsg="jr:itext' in xform or "jr:constraintMsg" in xform
    assert read_xlsform(blob) == ReadResult(form, [])
    path = tmp_path / "menu.xlsx"
    write_xlsform(form, path)
    assert read_xlsform(path).form == form


def test_group_names_are_safe_and_unique() -> None:
    form = FormSpec(
        "t",
        [
            QuestionSpec("theme_A", QType.TEXT, "甲", theme="A"),
            QuestionSpec("b", QType.TEXT, "乙", theme="A!"),
            QuestionSpec("c", QType.TEXT, "丙", theme="安全"),
        ],
        themes=["A", "A!", "安全"],
    )
    wb = openpyxl.load_workbook(io.BytesIO(written(form)))
    groups = [r[1] for r in wb["survey"].iter_rows(values_only=True) if r[0] == "begin_group"]
    assert groups == ["theme_A_2", "theme_A_3", "theme_3"]
    assert read_xlsform(written(form)).form == form


TEXT = (
    st.text(alphabet="饮水安全住房问卷好差中 AbcZ1?（）“”'", min_size=1, max_size=8)
    .map(str.strip)
    .filter(bool)
)
MAYBE = st.one_of(st.just(""), TEXT)
THEMES = ["", "安全生产", "民生保障", "Roads"]


@st.composite
def forms(draw: st.DrawFn) -> FormSpec:
    n = draw(st.integers(1, 6))
    raw = []
    for i in range(n):
        qtype = draw(st.sampled_from(list(QType)))
        theme = draw(st.sampled_from(THEMES))
        raw.append((i, qtype, theme))
    theme_order = list(dict.fromkeys(t for _, _, t in raw if t))
    raw.sort(key=lambda r: -1 if not r[2] else theme_order.index(r[2]))
    questions: list[QuestionSpec] = []
    for i, qtype, theme in raw:
        if qtype in FIXED_CHOICES:
            choices = list(FIXED_CHOICES[qtype])
        elif qtype in (QType.SELECT_ONE, QType.SELECT_MULTIPLE):
            k = draw(st.integers(2, 3))
            choices = [
                Choice(name, label, draw(MAYBE))
                for name, label in list(zip("abc", ["甲", "乙", "丙"], strict=True))[:k]
            ]
        else:
            choices = []
        applies = draw(st.sampled_from(list(Applies)))
        answered = [
            q.name
            for q in questions
            if q.type != QType.NOTE and q.applies in (Applies.BOTH, applies)
        ]
        relevant = ""
        if answered and draw(st.booleans()):
            relevant = "${" + draw(st.sampled_from(answered)) + "} != ''"
        constraint = ""
        if qtype in (QType.INTEGER, QType.DECIMAL) and draw(st.booleans()):
            constraint = ". >= 0"
        is_note = qtype == QType.NOTE
        questions.append(
            QuestionSpec(
                name=f"q{i}",
                type=qtype,
                label_zh=draw(TEXT),
                label_en=draw(MAYBE),
                hint_zh=draw(MAYBE),
                hint_en=draw(MAYBE),
                theme=theme,
                required=False if is_note else draw(st.booleans()),
                relevant=relevant,
                constraint=constraint,
                constraint_message_zh=draw(MAYBE) if constraint else "",
                constraint_message_en=draw(MAYBE) if constraint else "",
                applies=applies,
                choices=choices,
                visitor_note=draw(MAYBE),
            )
        )
    if all(q.type == QType.NOTE for q in questions):
        questions.insert(0, QuestionSpec("extra", QType.INTEGER, "数字"))
    return FormSpec(
        title=draw(MAYBE),
        questions=questions,
        form_id=draw(st.sampled_from(["", "menu_1"])),
        version=draw(st.sampled_from(["", "2", "2027.1"])),
        greeting=draw(MAYBE),
        themes=theme_order,
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(forms())
def test_round_trip_of_generated_forms(form: FormSpec) -> None:
    blob = written(form)
    convert(xlsform=blob, validate=False, file_type=".xlsx")
    assert read_xlsform(blob) == ReadResult(form, [])


# --- Real forms -----------------------------------------------------------------------------


def test_real_ict_survey_imports() -> None:
    result = read_xlsform(FORMS / "ict_survey_fails.xls")
    assert result.form.questions == [
        QuestionSpec(
            "internet_teach",
            QType.YES_NO,
            "17. Have any teachers used computers and internet to teach core subjects?",
            choices=list(YES_NO_CHOICES),
        )
    ]
    assert result.form.title == result.form.form_id == "ict_survey_fails"
    assert places(result.notices) == [
        ("Sheet3", None, "", C.XLSFORM_UNSUPPORTED),
        *[("choices", row, "list name", C.XLSFORM_UNSUPPORTED) for row in (4, 9, 12, 17, 23, 29)],
    ]


@pytest.mark.parametrize(
    ("name", "count", "first"),
    [
        ("UCL_Biomass_Plot_Form.xlsx", 95, ("survey", 3, "label", C.LABEL_REQUIRED)),
        ("tutorial.xls", 1, ("survey", 2, "type", C.XLSFORM_UNSUPPORTED)),
        ("widgets.csv", 15, ("survey", 4, "default", C.XLSFORM_UNSUPPORTED)),
        ("group.md", 3, ("survey", 2, "label", C.LABEL_REQUIRED)),
    ],
)
def test_real_forms_are_refused_row_by_row(
    name: str, count: int, first: tuple[str, int, str, str]
) -> None:
    refusals = refused((FORMS / name).read_bytes(), name)
    assert len(refusals) == count
    assert places(refusals)[0] == first
    assert all(r.row is not None for r in refusals if r.sheet in {"survey", "choices"})
