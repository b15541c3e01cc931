"""Whether a questionnaire can be asked, and whether a household's answers fit it."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from django.utils import translation

from minqing.menus.checks import (
    Problem,
    check_answers,
    check_form,
    clean_answers,
    compile_form,
)
from minqing.menus.errors import MenuErrorCode as C
from minqing.menus.logic import ExpressionError
from minqing.menus.spec import (
    GOOD_FAIR_BAD_CHOICES,
    MAX_LABEL,
    MAX_TEXT_ANSWER,
    YES_NO_CHOICES,
    Applies,
    Choice,
    FormSpec,
    QType,
    QuestionSpec,
)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


HELP = [Choice("medical", "医疗"), Choice("money", "生活补助"), Choice("none", "无")]
GRADES = [Choice("1", "一级"), Choice("2", "二级")]


def Q(name: str, type: QType | str = QType.TEXT, label: str = "问题", **kw: object) -> QuestionSpec:  # noqa: N802
    if type == QType.YES_NO and "choices" not in kw:
        kw["choices"] = list(YES_NO_CHOICES)
    if type == QType.GOOD_FAIR_BAD and "choices" not in kw:
        kw["choices"] = list(GOOD_FAIR_BAD_CHOICES)
    return QuestionSpec(name, type, label, **kw)  # type: ignore[arg-type]


def good_form() -> FormSpec:
    return FormSpec(
        "2026年春季菜单",
        [
            Q("intro", QType.NOTE, "您好，我们是县里的走访干部。"),
            Q("water_ok", QType.YES_NO, "家里饮水安全吗？", required=True),
            Q(
                "water_why",
                QType.TEXT,
                "哪里不安全？",
                relevant="${water_ok} = 'no'",
                required=True,
            ),
            Q("house", QType.GOOD_FAIR_BAD, "住房情况", applies=Applies.RURAL),
            Q(
                "house_fix",
                QType.TEXT,
                "需要怎么修？",
                relevant="${house} = 'bad' or ${house} = 'fair'",
                applies=Applies.RURAL,
            ),
            Q(
                "age",
                QType.INTEGER,
                "户主年龄",
                constraint=". >= 0 and . <= 120",
                constraint_message_zh="年龄应在0到120之间",
                constraint_message_en="The age is between 0 and 120",
            ),
            Q(
                "help",
                QType.SELECT_MULTIPLE,
                "需要哪些帮助？",
                choices=list(HELP),
                constraint="not(selected(., 'none') and count-selected(.) > 1)",
            ),
            Q(
                "elderly",
                QType.NOTE,
                "请转告民政",
                relevant="selected(${help}, 'medical') and ${age} >= 60",
            ),
            Q("grade", QType.SELECT_ONE, "残疾等级", choices=list(GRADES), relevant="${age} != ''"),
            Q("grade_note", QType.TEXT, "说明", relevant="${grade} = 2 or ${grade} = '1'"),
            Q("income", QType.DECIMAL, "月收入（元）", constraint=". >= 0"),
            Q("phone", QType.TEXT, "联系电话", constraint="string-length(.) = 11"),
        ],
    )


def problems(form: FormSpec) -> list[tuple[int, str, str]]:
    return [(p.index, p.field, p.code) for p in check_form(form)]


def one(*questions: QuestionSpec) -> FormSpec:
    return FormSpec("t", list(questions))


# --- The form -------------------------------------------------------------------------------


def test_a_good_form_has_no_problem():
    assert check_form(good_form()) == []
    assert check_form(good_form().for_place("urban")) == []
    assert check_form(good_form().for_place("rural")) == []


def test_a_problem_names_the_question_and_what_to_fix():
    form = one(Q("water_ok", QType.YES_NO), Q("why", relevant="${water_ok} = 'maybe'"))
    assert check_form(form) == [
        Problem(
            1,
            "relevant",
            "why: in its condition for being asked (relevant), 'maybe' is not a choice of "
            "water_ok (its choices: yes, no).",
            C.NOT_A_CHOICE.value,
        )
    ]


@pytest.mark.parametrize(
    ("questions", "expected"),
    [
        # names
        ([Q("a"), Q("")], [(1, "name", C.BAD_NAME)]),
        ([Q("a"), Q("  ")], [(1, "name", C.BAD_NAME)]),
        ([Q("1a")], [(0, "name", C.BAD_NAME)]),
        ([Q("water ok")], [(0, "name", C.BAD_NAME)]),
        ([Q("饮水")], [(0, "name", C.BAD_NAME)]),
        ([Q("a" * 65)], [(0, "name", C.BAD_NAME)]),
        ([Q("a" * 64), Q("_b")], []),
        ([Q("a"), Q("b"), Q("a")], [(2, "name", C.DUPLICATE_NAME)]),
        # type
        ([Q("a", "date")], [(0, "type", C.BAD_TYPE)]),
        # labels
        ([Q("a", label="")], [(0, "label", C.LABEL_REQUIRED)]),
        ([Q("a"), Q("n", QType.NOTE, label=" ")], [(1, "label", C.LABEL_REQUIRED)]),
        ([Q("a", label="长" * (MAX_LABEL + 1))], [(0, "label", C.LABEL_TOO_LONG)]),
        # applies
        ([Q("a", applies="town")], [(0, "applies", C.BAD_APPLIES)]),
        # choices
        (
            [Q("a", QType.SELECT_ONE, choices=[Choice("x", "X")])],
            [(0, "choices", C.MISSING_CHOICES)],
        ),
        ([Q("a", QType.SELECT_MULTIPLE)], [(0, "choices", C.MISSING_CHOICES)]),
        (
            [Q("a", QType.SELECT_ONE, choices=[Choice("x", "X"), Choice("x", "Y")])],
            [(0, "choices", C.BAD_CHOICES)],
        ),
        (
            [Q("a", QType.SELECT_ONE, choices=[Choice("x y", "X"), Choice("z", "Y")])],
            [(0, "choices", C.BAD_CHOICES)],
        ),
        (
            [Q("a", QType.SELECT_ONE, choices=[Choice("x", "同"), Choice("y", "同")])],
            [(0, "choices", C.BAD_CHOICES)],
        ),
        (
            [Q("a", QType.SELECT_ONE, choices=[Choice("x", ""), Choice("y", "Y")])],
            [(0, "choices", C.LABEL_REQUIRED)],
        ),
        (
            [Q("a", QType.SELECT_ONE, choices=[Choice("x", "长" * 501), Choice("y", "Y")])],
            [(0, "choices", C.LABEL_TOO_LONG)],
        ),
        ([Q("a", QType.YES_NO, choices=[])], [(0, "choices", C.BAD_CHOICES)]),
        (
            [Q("a", QType.YES_NO, choices=[Choice("yes", "是"), Choice("no", "不是")])],
            [(0, "choices", C.BAD_CHOICES)],
        ),
        (
            [Q("a", QType.GOOD_FAIR_BAD, choices=list(YES_NO_CHOICES))],
            [(0, "choices", C.BAD_CHOICES)],
        ),
        ([Q("a", QType.INTEGER, choices=list(GRADES))], [(0, "choices", C.BAD_CHOICES)]),
        ([Q("a"), Q("n", QType.NOTE, choices=list(GRADES))], [(1, "choices", C.BAD_CHOICES)]),
        # relevant: reads, names earlier questions of the same version, not notes
        ([Q("a"), Q("b", relevant="${a} = ")], [(1, "relevant", C.EXPRESSION)]),
        ([Q("a"), Q("b", relevant="pulldata('x') = 1")], [(1, "relevant", C.EXPRESSION)]),
        ([Q("a"), Q("b", relevant=". = 'x'")], [(1, "relevant", C.EXPRESSION)]),
        ([Q("a"), Q("b", relevant="${zz} = 'x'")], [(1, "relevant", C.UNKNOWN_QUESTION)]),
        ([Q("a", relevant="${b} = 'x'"), Q("b")], [(0, "relevant", C.FORWARD_REFERENCE)]),
        ([Q("a", relevant="${a} = 'x'")], [(0, "relevant", C.FORWARD_REFERENCE)]),
        (
            [Q("n", QType.NOTE, "读出"), Q("b", relevant="${n} = ''")],
            [(1, "relevant", C.NOTE_REFERENCE)],
        ),
        (
            [Q("u", applies=Applies.URBAN), Q("r", relevant="${u} = 'x'", applies=Applies.RURAL)],
            [(1, "relevant", C.OTHER_VERSION)],
        ),
        (
            [Q("u", applies=Applies.URBAN), Q("b", relevant="${u} = 'x'")],
            [(1, "relevant", C.OTHER_VERSION)],
        ),
        ([Q("b"), Q("u", relevant="${b} = 'x'", applies=Applies.URBAN)], []),
        (
            [Q("u", applies=Applies.URBAN), Q("u2", relevant="${u} = 'x'", applies=Applies.URBAN)],
            [],
        ),
        # selected() and count-selected() only on multiple choice, with its choices
        (
            [Q("w", QType.YES_NO), Q("b", relevant="selected(${w}, 'yes')")],
            [(1, "relevant", C.NOT_MULTIPLE)],
        ),
        (
            [Q("w", QType.INTEGER), Q("b", relevant="count-selected(${w}) > 1")],
            [(1, "relevant", C.NOT_MULTIPLE)],
        ),
        (
            [
                Q("h", QType.SELECT_MULTIPLE, choices=HELP),
                Q("b", relevant="selected(${h}, 'food')"),
            ],
            [(1, "relevant", C.NOT_A_CHOICE)],
        ),
        (
            [Q("h", QType.SELECT_MULTIPLE, choices=HELP), Q("b", relevant="${h} = 'medical'")],
            [(1, "relevant", C.USE_SELECTED)],
        ),
        ([Q("h", QType.SELECT_MULTIPLE, choices=HELP), Q("b", relevant="${h} != ''")], []),
        # comparisons of a choice question with what is not one of its choices
        (
            [Q("w", QType.YES_NO), Q("b", relevant="${w} = 'maybe'")],
            [(1, "relevant", C.NOT_A_CHOICE)],
        ),
        (
            [Q("w", QType.YES_NO), Q("b", relevant="'maybe' != ${w}")],
            [(1, "relevant", C.NOT_A_CHOICE)],
        ),
        (
            [Q("g", QType.SELECT_ONE, choices=GRADES), Q("b", relevant="${g} = 3")],
            [(1, "relevant", C.NOT_A_CHOICE)],
        ),
        ([Q("g", QType.SELECT_ONE, choices=GRADES), Q("b", relevant="${g} = 2.0")], []),
        (
            [Q("age", QType.INTEGER), Q("b", relevant="${age} >= 'old'")],
            [(1, "relevant", C.TYPE_MISMATCH)],
        ),
        ([Q("age", QType.INTEGER), Q("b", relevant="${age} >= '60'")], []),
        # constraint: reads with ., only on questions with an answer
        ([Q("a", QType.INTEGER, constraint=". >")], [(0, "constraint", C.EXPRESSION)]),
        ([Q("a", QType.INTEGER, constraint="${a} > 1")], [(0, "constraint", C.FORWARD_REFERENCE)]),
        (
            [Q("a", QType.INTEGER, constraint=". > ${b}"), Q("b", QType.INTEGER)],
            [(0, "constraint", C.FORWARD_REFERENCE)],
        ),
        ([Q("b", QType.INTEGER), Q("a", QType.INTEGER, constraint=". > ${b}")], []),
        (
            [Q("a"), Q("n", QType.NOTE, "读出", constraint=". = 1")],
            [(1, "constraint", C.CONSTRAINT_NOT_ALLOWED)],
        ),
        ([Q("a", QType.YES_NO, constraint=". = 'maybe'")], [(0, "constraint", C.NOT_A_CHOICE)]),
        (
            [Q("a", QType.SELECT_ONE, choices=GRADES, constraint="selected(., '1')")],
            [(0, "constraint", C.NOT_MULTIPLE)],
        ),
        # the form needs something to answer
        ([], [(-1, "", C.EMPTY)]),
        ([Q("n", QType.NOTE, "读出")], [(-1, "", C.EMPTY)]),
    ],
)
def test_form_problems(questions, expected):
    assert problems(one(*questions)) == [(i, f, c.value) for i, f, c in expected]


def test_several_problems_come_in_the_order_of_the_questions():
    form = one(
        Q("a", relevant="${b} = 'x'"),
        Q("b", "date", ""),
        Q("a"),
    )
    assert problems(form) == [
        (0, "relevant", C.FORWARD_REFERENCE.value),
        (1, "type", C.BAD_TYPE.value),
        (1, "label", C.LABEL_REQUIRED.value),
        (2, "name", C.DUPLICATE_NAME.value),
    ]


def test_problem_messages():
    def message(*questions: QuestionSpec) -> list[str]:
        return [p.message for p in check_form(one(*questions))]

    assert message(Q("a"), Q("a")) == [
        "The name a of question 2 is already the name of question 1: give it another name."
    ]
    assert message(Q("a", relevant="${b} = 'x'"), Q("b")) == [
        "a: its condition for being asked (relevant) refers to ${b}, which is asked after it, "
        "so the visitor cannot know that answer yet; move b before it or change the expression."
    ]
    assert message(
        Q("u", applies=Applies.URBAN), Q("r", relevant="${u} = 'x'", applies="rural")
    ) == [
        "r: its condition for being asked (relevant) refers to ${u}, which is only in the urban "
        "version, but r is asked in the rural version; make them apply to the same version."
    ]
    assert message(Q("a"), Q("b", relevant="pulldata('x') = 1")) == [
        "b: its condition for being asked (relevant) cannot be read: pulldata() at character 1 "
        "is not supported."
    ]
    assert message(Q("", label="")) == [
        "Question 1 has no name: give it one (letters, digits and _).",
        "question 1 has no Chinese label: write what the visitor reads out.",
    ]


# --- The answers ----------------------------------------------------------------------------

GOOD = {
    "water_ok": "no",
    "water_why": "  井水浑浊  ",
    "age": "70",
    "help": ["money", "medical"],
    "grade": "2",
    "grade_note": "行动不便",
    "income": "1200.50",
    "phone": "13800138000",
}


def test_good_answers():
    form = good_form().for_place("urban")
    assert check_answers(form, GOOD) == {}
    assert clean_answers(form, GOOD) == {
        "water_ok": "no",
        "water_why": "井水浑浊",
        "age": 70,
        "help": ["medical", "money"],
        "grade": "2",
        "grade_note": "行动不便",
        "income": "1200.5",
        "phone": "13800138000",
    }


def test_unanswered_values_are_left_out():
    form = good_form().for_place("urban")
    answers: dict[str, object] = {
        "water_ok": "yes",
        "age": "",
        "help": [],
        "income": None,
        "phone": "   ",
    }
    assert clean_answers(form, answers) == {"water_ok": "yes"}
    assert check_answers(form, answers) == {}


@pytest.mark.parametrize(
    ("name", "value", "clean"),
    [
        ("age", 70, 70),
        ("age", " -3 ", None),  # clean, but its constraint fails
        ("age", "+5", 5),
        ("income", 1200, "1200"),
        ("income", 0.1, "0.1"),
        ("income", Decimal("12.500"), "12.5"),
        ("income", "100", "100"),
        ("income", "1E+2", None),
        ("income", "-0.0", "0"),
        ("income", ".5", "0.5"),
        ("water_ok", " no ", "no"),
        ("help", ("none",), ["none"]),
        ("help", [" money", "medical "], ["medical", "money"]),
    ],
)
def test_clean_values(name, value, clean):
    form = good_form().for_place("urban")
    cleaned = clean_answers(form, {name: value})
    if clean is None and name == "income":
        assert cleaned == {}
    elif clean is None:
        assert name in cleaned
    else:
        assert cleaned == {name: clean}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("zz", "x", "This is not a question of this version."),
        ("house", "good", "This is not a question of this version."),  # a rural question
        ("age", 70.0, "This must be a whole number."),
        ("age", "70.5", "This must be a whole number."),
        ("age", "七十", "This must be a whole number."),
        ("age", True, "This must be a whole number."),
        ("age", [70], "This must be a whole number."),
        ("age", 2**53, "This number is too large."),
        ("age", "9" * 17, "This must be a whole number."),
        ("income", "abc", "This must be a number."),
        ("income", "1e3", "This must be a number."),
        ("income", float("nan"), "This must be a number."),
        ("income", float("inf"), "This must be a number."),
        ("income", Decimal("Infinity"), "This must be a number."),
        ("income", False, "This must be a number."),
        ("income", {"v": 1}, "This must be a number."),
        ("income", "1" * 16, "This number is too large."),
        ("income", "0.00000000001", "This number has more than 10 decimal places."),
        ("water_ok", "maybe", "This must be one of its choices: yes, no."),
        ("water_ok", 1, "This must be one of its choices: yes, no."),
        ("water_ok", ["no"], "This must be one of its choices: yes, no."),
        ("grade", 2, "This must be one of its choices: 1, 2."),
        (
            "help",
            "medical",
            "This must be a list of different choices among: medical, money, none.",
        ),
        (
            "help",
            ["medical", "medical"],
            "This must be a list of different choices among: medical, money, none.",
        ),
        ("help", ["food"], "This must be a list of different choices among: medical, money, none."),
        (
            "help",
            ["medical", 1],
            "This must be a list of different choices among: medical, money, none.",
        ),
        ("phone", 13800138000, "This must be a text."),
        (
            "phone",
            "1" * (MAX_TEXT_ANSWER + 1),
            f"This text is longer than {MAX_TEXT_ANSWER} characters.",
        ),
        ("intro", "好", "This is a note: it takes no answer."),
    ],
)
def test_wrong_answers(name, value, message):
    form = good_form().for_place("urban")
    answers = {"water_ok": "yes", name: value} if name != "water_ok" else {name: value}
    assert check_answers(form, answers) == {name: message}
    assert name not in clean_answers(form, answers)


def test_a_long_text_is_checked_stripped():
    form = good_form().for_place("urban")
    answers = {"water_ok": "no", "water_why": "  " + "1" * MAX_TEXT_ANSWER + "  "}
    assert check_answers(form, answers) == {}
    assert clean_answers(form, answers)["water_why"] == "1" * MAX_TEXT_ANSWER


def test_answered_although_skipped():
    form = good_form().for_place("rural")
    answers = {"water_ok": "yes", "water_why": "x", "house": "good", "house_fix": "屋顶"}
    assert check_answers(form, answers) == {
        "water_why": "This question is answered although it is skipped.",
        "house_fix": "This question is answered although it is skipped.",
    }
    # The cleaned values are what the logic reads: " no " is "no".
    assert check_answers(form, {"water_ok": " no ", "water_why": "x"}) == {}


def test_a_skipped_answer_does_not_make_later_questions_relevant():
    form = one(
        Q("a", QType.YES_NO),
        Q("b", QType.YES_NO, relevant="${a} = 'yes'"),
        Q("c", relevant="${b} = 'yes'", required=True),
    )
    assert check_answers(form, {"a": "no", "b": "yes"}) == {
        "b": "This question is answered although it is skipped."
    }
    assert check_answers(form, {"a": "yes", "b": "yes"}) == {"c": "This question must be answered."}


def test_required_questions():
    form = good_form().for_place("urban")
    assert check_answers(form, {}) == {"water_ok": "This question must be answered."}
    assert check_answers(form, {"water_ok": "no"}) == {
        "water_why": "This question must be answered."
    }
    # a required question answered wrongly is reported once, for what is wrong
    assert check_answers(form, {"water_ok": "maybe"}) == {
        "water_ok": "This must be one of its choices: yes, no."
    }
    # a required note asks for nothing
    assert check_answers(one(Q("a"), Q("n", QType.NOTE, "读出", required=True)), {}) == {}


def test_constraints():
    form = good_form().for_place("urban")
    base = {"water_ok": "yes"}
    assert check_answers(form, base | {"age": 121}) == {"age": "The age is between 0 and 120"}
    with translation.override("zh-hans"):
        assert check_answers(form, base | {"age": 121}) == {"age": "年龄应在0到120之间"}
    assert check_answers(form, base | {"age": "-1"}) == {"age": "The age is between 0 and 120"}
    assert check_answers(form, base | {"help": ["none", "money"]}) == {
        "help": "This answer is not valid."
    }
    assert check_answers(form, base | {"income": "-0.5"}) == {"income": "This answer is not valid."}
    assert check_answers(form, base | {"phone": "1380013800"}) == {
        "phone": "This answer is not valid."
    }
    assert check_answers(form, base | {"age": 0, "help": ["none"], "phone": "13800138000"}) == {}
    # only the Chinese message: it is used in every language
    zh_only = one(Q("a", QType.INTEGER, constraint=". > 0", constraint_message_zh="须大于0"))
    assert check_answers(zh_only, {"a": 0}) == {"a": "须大于0"}


def test_a_constraint_reads_earlier_answers():
    form = one(
        Q("members", QType.INTEGER),
        Q("elderly", QType.INTEGER, constraint=". <= ${members}"),
    )
    assert check_answers(form, {"members": 3, "elderly": 2}) == {}
    assert check_answers(form, {"members": 3, "elderly": 4}) == {
        "elderly": "This answer is not valid."
    }
    # an unanswered ${members} is '': the comparison is false
    assert check_answers(form, {"elderly": 1}) == {"elderly": "This answer is not valid."}


def test_a_compiled_form_is_reused():
    compiled = compile_form(good_form().for_place("urban"))
    for _ in range(3):
        assert compiled.check(GOOD) == {}
        assert compiled.check({"water_ok": "no"}) == {
            "water_why": "This question must be answered."
        }
    cleaned, errors = compiled.validate(GOOD | {"age": "x"})
    # without an age, the grade (asked when the age is answered) is skipped
    assert errors == {
        "age": "This must be a whole number.",
        "grade": "This question is answered although it is skipped.",
        "grade_note": "This question is answered although it is skipped.",
    }
    assert "age" not in cleaned and cleaned["help"] == ["medical", "money"]


def test_compile_form_refuses_an_unreadable_form():
    with pytest.raises(ExpressionError):
        compile_form(one(Q("a", relevant="${b} =")))
    with pytest.raises(ValueError):
        compile_form(one(Q("a", "date")))


def forty_questions() -> tuple[FormSpec, dict[str, object]]:
    questions = [Q("q0", QType.YES_NO)]
    answers: dict[str, object] = {"q0": "yes"}
    for k in range(1, 40):
        kind = (QType.INTEGER, QType.SELECT_MULTIPLE, QType.TEXT, QType.YES_NO)[k % 4]
        q = Q(f"q{k}", kind, relevant=f"${{q{k - 1}}} != '' or ${{q0}} = 'yes'")
        if kind == QType.SELECT_MULTIPLE:
            q.choices = list(HELP)
        questions.append(q)
        answers[f"q{k}"] = {
            QType.INTEGER: "5",
            QType.SELECT_MULTIPLE: ["money"],
            QType.TEXT: "好",
            QType.YES_NO: "no",
        }[kind]
    return one(*questions), answers


def test_forty_answers():
    form, answers = forty_questions()
    assert check_form(form) == []
    compiled = compile_form(form)
    assert compiled.check(answers) == {}
    assert compiled.clean(answers) == answers | {f"q{k}": 5 for k in range(4, 40, 4)}


def test_problem_is_frozen():
    p = Problem(0, "name", "m", C.BAD_NAME.value)
    with pytest.raises(AttributeError):
        replace(p).index = 1  # type: ignore[misc]
