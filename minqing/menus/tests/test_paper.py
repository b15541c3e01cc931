"""The paper form (纸质问卷): an A4 PDF with its CJK font embedded, the questions numbered by
theme, skip logic in words and the version code on every page. Pure: no database."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from minqing.contacts import card_print
from minqing.contacts.card_print import CardFontMissing
from minqing.menus.paper import (
    PaperHeader,
    paper_form_pdf,
    question_numbers,
    relevant_words,
    theme_groups,
    unlettered,
)
from minqing.menus.spec import FIXED_CHOICES, Choice, FormSpec, QType, QuestionSpec

WQY = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
needs_wqy = pytest.mark.skipif(not WQY.is_file(), reason="fonts-wqy-microhei is not installed")
needs_poppler = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("pdffonts", "pdftotext", "pdfinfo")),
    reason="poppler-utils is not installed",
)

THEMES = [
    "安全生产",
    "民生保障",
    "医疗卫生",
    "教育就业",
    "基础设施",
    "环境卫生",
    "社会治安",
    "文明新风",
]
HEADER = PaperHeader(
    county="青山县",
    title="四季菜单·入户走访问卷",
    version_label="2027年第一季度 · 农村版 · 第2版",
    version_code="M12-V2-rural",
)


def _q(name: str, qtype: QType, label: str, theme: str, **kw: object) -> QuestionSpec:
    choices = kw.pop("choices", None)
    if choices is None:
        choices = list(FIXED_CHOICES.get(qtype, ()))
    return QuestionSpec(name, qtype, label, theme=theme, choices=choices, **kw)  # type: ignore[arg-type]


def _abc(*labels: str) -> list[Choice]:
    return [Choice(chr(ord("a") + i), label) for i, label in enumerate(labels)]


def build_form() -> FormSpec:
    """About forty questions over eight themes, every type, some skip logic."""
    yn, gfb = QType.YES_NO, QType.GOOD_FAIR_BAD
    qs = [
        # 民生保障 is listed second but its first questions come first in the list:
        # the printed order follows form.themes.
        _q("water", yn, "饮水是否正常", "民生保障", required=True),
        _q(
            "water_why",
            QType.SELECT_MULTIPLE,
            "饮水有什么问题",
            "民生保障",
            relevant="${water} = 'no'",
            choices=_abc("停水", "水质浑浊", "水压不足", "水费太贵", "其他"),
        ),
        _q("insured", yn, "是否参加医保", "民生保障", required=True),
        _q(
            "insured_why",
            QType.SELECT_ONE,
            "没有参加医保的原因",
            "民生保障",
            relevant="${insured} != 'yes'",
            choices=_abc(
                "不知道怎么办理",
                "觉得没有必要",
                "经济困难交不起",
                "在外地参保，户籍地未登记，需要核实后再办理转移接续手续，目前正在办理中，还没有办完",
            ),
        ),
        _q(
            "pension",
            yn,
            "家中60岁以上老人是否按时足额领到城乡居民基本养老金，有没有被冒领、停发或者少发的情况（如有，请记下是哪位老人和大概的时间）",
            "民生保障",
        ),
        _q("income", QType.DECIMAL, "去年家庭人均纯收入", "民生保障", hint_zh="单位：元"),
        _q("gas", yn, "家中是否使用液化气", "安全生产", required=True),
        _q(
            "gas_check",
            yn,
            "液化气钢瓶是否在检验期内",
            "安全生产",
            relevant="${gas} = 'yes'",
            visitor_note="请看一眼钢瓶上的检验日期，不要只听住户说。",
        ),
        _q("wires", gfb, "家中电线线路状况", "安全生产"),
        _q("fire", yn, "是否配备灭火器", "安全生产"),
        _q("wires_fixed", yn, "线路问题是否已经报修", "安全生产", relevant="${wires} = 'bad'"),
        _q(
            "safety_note",
            QType.NOTE,
            "请提醒住户：电动车不要在楼道和室内充电，出门前关好煤气阀门。",
            "安全生产",
        ),
        _q("doctor", gfb, "对村卫生室的服务是否满意", "医疗卫生"),
        _q(
            "chronic",
            QType.INTEGER,
            "家中患慢性病的人数",
            "医疗卫生",
            hint_zh="单位：人",
            constraint=". >= 0 and . <= 20",
            constraint_message_zh="人数应在0到20之间",
        ),
        _q(
            "chronic_follow",
            yn,
            "慢性病患者是否有家庭医生随访",
            "医疗卫生",
            relevant="${chronic} > 0",
        ),
        _q("checkup", yn, "65岁以上老人今年是否做过免费体检", "医疗卫生"),
        _q(
            "medicine", QType.TEXT, "买药看病方面还有什么困难", "医疗卫生", hint_zh="住户没说就不填"
        ),
        _q("children", QType.INTEGER, "家中在读学生人数", "教育就业", hint_zh="单位：人"),
        _q("school", gfb, "对孩子就读学校的评价", "教育就业", relevant="${children} > 0"),
        _q(
            "work",
            QType.SELECT_ONE,
            "家中劳动力主要在哪里务工",
            "教育就业",
            choices=_abc("本村", "本县", "省内", "省外"),
        ),
        _q("training", yn, "是否希望参加技能培训", "教育就业"),
        _q(
            "training_kind",
            QType.SELECT_MULTIPLE,
            "希望参加哪些培训",
            "教育就业",
            relevant="selected(${training}, 'yes')",
            choices=_abc("种植养殖", "电工焊工", "家政服务", "电商直播", "厨师面点", "驾驶"),
        ),
        _q("road", gfb, "进村道路状况", "基础设施"),
        _q("light", yn, "村里路灯是否正常", "基础设施"),
        _q("network", yn, "手机信号和网络是否正常", "基础设施"),
        _q(
            "house",
            yn,
            "住房是否安全（无裂缝、不漏雨）",
            "基础设施",
            required=True,
            hint_zh="看墙体、屋顶和地基",
        ),
        _q(
            "house_what",
            QType.TEXT,
            "住房存在什么问题",
            "基础设施",
            relevant="${house} = 'no' or ${road} = 'bad'",
        ),
        _q("toilet", yn, "是否已完成改厕", "环境卫生"),
        _q("garbage", gfb, "垃圾收运是否及时", "环境卫生"),
        _q("sewage", yn, "生活污水是否乱排", "环境卫生"),
        _q("yard", gfb, "房前屋后环境", "环境卫生"),
        _q("safe", gfb, "您觉得村里治安怎么样", "社会治安"),
        _q("fraud", yn, "最近是否接到过诈骗电话", "社会治安"),
        _q(
            "fraud_loss",
            yn,
            "是否有经济损失",
            "社会治安",
            relevant="${fraud} = 'yes' and ${safe} != 'good'",
        ),
        _q("dispute", yn, "是否有邻里纠纷需要调解", "社会治安"),
        _q("custom", yn, "红白喜事是否按村规简办", "文明新风"),
        _q("volunteer", yn, "是否愿意参加志愿服务", "文明新风"),
        _q(
            "family",
            QType.SELECT_ONE,
            "家中有没有评过的荣誉",
            "文明新风",
            choices=_abc("文明家庭", "好婆媳", "致富能手", "没有"),
        ),
        _q("other_need", QType.TEXT, "您对村里还有什么意见和建议", ""),
        _q("visitors", QType.INTEGER, "今天在家的人数", "", hint_zh="单位：人"),
        _q("odd", yn, "是否同意回访", "", relevant="string-length(${other_need}) > 5"),
    ]
    return FormSpec(
        title="四季菜单",
        questions=qs,
        form_id="m12",
        version="2",
        greeting=(
            "您好！我们是青山县民情走访组的工作人员，今天来了解一下您家的生活情况，"
            "听听您的意见和困难。大约需要十分钟，您说的情况我们会保密。\n谢谢您的支持！"
        ),
        themes=THEMES[:5] + ["这个主题没有题目"],  # the last three themes come as they come
    )


def _pdf(form: FormSpec | None = None) -> bytes:
    return paper_form_pdf(form or build_form(), HEADER)


def _poppler(tool: str, data: bytes, *args: str) -> str:
    """What a poppler-utils tool prints for the PDF ``data``."""
    path = shutil.which(tool)
    assert path, tool
    return subprocess.run(  # noqa: S603 - poppler's reader on a PDF we made
        [path, *args, "-", *(["-"] if tool == "pdftotext" else [])],
        input=data,
        capture_output=True,
        check=True,
    ).stdout.decode()


def _text(data: bytes) -> str:
    return _poppler("pdftotext", data, "-layout")


# --------------------------------------------------------------------------- pure parts


def test_the_themes_come_in_the_forms_order_then_as_they_come_then_none():
    groups = theme_groups(build_form())
    assert [t for t, _ in groups] == [*THEMES, ""]
    numbers = question_numbers(groups)
    assert numbers["gas"] == 1  # 安全生产 is first in form.themes
    assert "safety_note" not in numbers  # notes have no answer and no number
    assert numbers["water"] == 6
    assert len(numbers) == len(build_form().questions) - 1 == 40


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("${water} = 'no'", "第3题选“否”"),
        ("${insured} != 'yes'", "第4题未选“是”"),
        ("selected(${water_why}, 'b')", "第5题选了“水质浑浊”"),
        ("not(selected(${water_why}, 'b'))", "第5题没有选“水质浑浊”"),
        ("${chronic} > 0", "第2题大于0"),
        ("${income} = 3", "第1题填“3”"),
        (
            "${water} = 'no' and (${insured} = 'no' or ${chronic} >= 2)",
            "第3题选“否”，且（第4题选“否”，或第2题不小于2）",
        ),
        (
            "${water} = 'no' and ${insured} = 'no' or ${chronic} >= 2",
            "第3题选“否”，且第4题选“否”，或第2题不小于2",
        ),
        ("(${water} = 'yes') or ${water_why} != ''", "第3题选“是”，或第5题已作答"),
    ],
)
def test_skip_logic_in_words(expr, words):
    yes_no = list(FIXED_CHOICES[QType.YES_NO])
    form = FormSpec(
        "t",
        [
            QuestionSpec("note", QType.NOTE, "读给住户听"),
            QuestionSpec("income", QType.DECIMAL, "收入"),
            QuestionSpec("chronic", QType.INTEGER, "人数"),
            QuestionSpec("water", QType.YES_NO, "饮水", choices=yes_no),
            QuestionSpec("insured", QType.YES_NO, "医保", choices=yes_no),
            QuestionSpec(
                "water_why", QType.SELECT_MULTIPLE, "为什么", choices=_abc("停水", "水质浑浊")
            ),
        ],
    )
    numbers = question_numbers(theme_groups(form))
    questions = {q.name: q for q in form.questions}
    assert relevant_words(expr, numbers, questions) == words


def test_skip_logic_it_cannot_say_is_printed_with_the_question_numbers():
    numbers = {"other": 7}
    questions = {"other": QuestionSpec("other", QType.TEXT, "意见")}
    assert relevant_words("string-length(${other}) > 5", numbers, questions) == (
        "string-length(第7题) > 5"
    )
    # An unknown name or choice stays as written.
    assert relevant_words("${nobody} = 'x'", numbers, questions) == "${nobody} = 'x'"


# --------------------------------------------------------------------------- the PDF


@needs_wqy
@needs_poppler
def test_the_paper_form_embeds_its_font_and_prints_every_theme_question_and_page():
    data = _pdf()
    assert data.startswith(b"%PDF")
    fonts = _poppler("pdffonts", data)
    rows = fonts.splitlines()[2:]
    assert rows, fonts
    for row in rows:  # name type encoding emb sub uni object ID
        cols = row.split()
        assert "MinqingCJK" in cols[0] or "WenQuanYi" in cols[0], fonts
        assert cols[-5] == "yes", fonts  # emb
    pages = int(re.search(r"Pages:\s+(\d+)", _poppler("pdfinfo", data)).group(1))  # type: ignore[union-attr]
    assert pages > 1

    text = _text(data)
    flat = re.sub(r"\s+", "", text)
    assert text.count("M12-V2-rural") >= pages  # in every footer
    assert f"第1页/共{pages}页" in flat and f"第{pages}页/共{pages}页" in flat
    for theme in THEMES:
        assert theme in flat
    assert "其他问题" in flat  # the questions without a theme
    for fragment in ("1.家中是否使用液化气", "6.饮水是否正常", "8.是否参加医保", "40.是否同意回访"):
        assert fragment in flat
    assert "户主姓名" in flat and "走访方式" in flat and "拒访" in flat
    assert "您好！我们是青山县民情走访组的工作人员" in flat
    # 饮水有什么问题 (7) is asked when 饮水是否正常 (6) was answered 否.
    assert "（第6题选“否”时回答）" in flat
    assert "第1题选“是”时回答" in flat  # 液化气钢瓶 after 使用液化气
    assert "第13题大于0时回答" in flat
    assert "（第3题选“差”时回答）" in flat  # 线路问题是否已经报修 after 电线线路状况
    assert "可多选" in flat
    assert "提示：请看一眼钢瓶上的检验日期" in flat
    assert "单位：元" in flat and "人数应在0到20之间" in flat
    # The long choice wraps instead of running off the page.
    assert "需要核实后再办理转移接续手续" in flat


@needs_wqy
@needs_poppler
def test_a_question_is_never_split_across_pages():
    data = _pdf()
    pages = _text(data).split("\f")
    numbered = re.compile(r"^\s*(\d+)\. ", re.MULTILINE)
    form = build_form()
    numbers = question_numbers(theme_groups(form))
    by_number = {n: name for name, n in numbers.items()}
    questions = {q.name: q for q in form.questions}
    for page in pages:
        for m in numbered.finditer(page):
            q = questions[by_number[int(m.group(1))]]
            for choice in q.choices:  # every choice on the page of its question
                assert choice.label_zh[:4] in re.sub(r"\s+", "", page), (q.name, choice)


@needs_wqy
def test_a_form_with_no_questions_still_prints_one_page():
    data = paper_form_pdf(FormSpec("空", []), HEADER)
    assert data.startswith(b"%PDF")


def test_without_a_font_no_pdf_is_made(monkeypatch, settings):
    settings.MINQING_CJK_FONT = ""
    monkeypatch.delenv("MINQING_CJK_FONT", raising=False)
    monkeypatch.setattr(card_print, "CJK_FONT_CANDIDATES", ())
    with pytest.raises(CardFontMissing, match="fonts-wqy-microhei"):
        _pdf()


@pytest.mark.parametrize(
    ("i", "label", "printed"),
    [
        (0, "A. 自来水", "自来水"),
        (1, "B、井水", "井水"),
        (2, "c）桶装水", "桶装水"),
        (3, "D.其他", "其他"),
        (0, "B. 井水", "B. 井水"),  # not its own letter: kept as typed
        (0, "A.", "A."),  # nothing after the letter
        (0, "Apple", "Apple"),
        (0, "自来水", "自来水"),
    ],
)
def test_a_label_that_carries_its_letter_is_not_lettered_twice(i, label, printed):
    assert unlettered(i, label) == printed
