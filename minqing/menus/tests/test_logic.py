"""The skip-logic language: reading, evaluating, and the phone's evaluator agreeing with ours."""

from __future__ import annotations

import json
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from minqing.menus.logic import (
    And,
    Compare,
    CountSelected,
    Current,
    Expr,
    ExpressionError,
    Not,
    Number,
    Or,
    Ref,
    Selected,
    StringLength,
    Text,
    evaluate,
    names,
    parse,
    to_json,
)

LOGIC_JS = Path(__file__).resolve().parents[1] / "static" / "menus" / "logic.js"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


# --- Reading --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("${water_ok} = 'no'", Compare("=", Ref("water_ok"), Text("no"))),
        ('${water_ok}="no"', Compare("=", Ref("water_ok"), Text("no"))),
        (
            "selected(${help}, 'medical') and ${age} >= 60",
            And((Selected(Ref("help"), "medical"), Compare(">=", Ref("age"), Number(60.0)))),
        ),
        (
            "${a} = 1 or ${b} != 2 and ${c} < 3",
            Or(
                (
                    Compare("=", Ref("a"), Number(1.0)),
                    And(
                        (Compare("!=", Ref("b"), Number(2.0)), Compare("<", Ref("c"), Number(3.0)))
                    ),
                )
            ),
        ),
        (
            "(${a} = 1 or ${b} <= 2) and not(${c} > -3.5)",
            And(
                (
                    Or((Compare("=", Ref("a"), Number(1.0)), Compare("<=", Ref("b"), Number(2.0)))),
                    Not(Compare(">", Ref("c"), Number(-3.5))),
                )
            ),
        ),
        ("count-selected(${help}) >= 2", Compare(">=", CountSelected(Ref("help")), Number(2.0))),
        ("(${a}) = .5", Compare("=", Ref("a"), Number(0.5))),
        ("${income} != ''", Compare("!=", Ref("income"), Text(""))),
        ("'是' = ${a}", Compare("=", Text("是"), Ref("a"))),
        (
            "${a} = 1 and ${b} = 2 and ${c} = 3",
            And(
                tuple(
                    Compare("=", Ref(n), Number(float(k)))
                    for k, n in ((1, "a"), (2, "b"), (3, "c"))
                )
            ),
        ),
    ],
)
def test_parse_trees(text, tree):
    assert parse(text) == tree
    assert parse(text, allow_dot=True) == tree


def test_parse_dot_in_constraints():
    assert parse(". >= 0 and . <= 120", allow_dot=True) == And(
        (Compare(">=", Current(), Number(0.0)), Compare("<=", Current(), Number(120.0)))
    )
    assert parse("string-length(.) = 11", allow_dot=True) == Compare(
        "=", StringLength(Current()), Number(11.0)
    )
    assert parse("not(selected(., 'none') and count-selected(.) > 1)", allow_dot=True) == Not(
        And((Selected(Current(), "none"), Compare(">", CountSelected(Current()), Number(1.0))))
    )


def test_trees_are_hashable_and_positions_do_not_count():
    a, b = parse("${a} = 1"), parse("   ${a}   =   1")
    assert a == b and hash(a) == hash(b)
    assert {a, b} == {a}
    with pytest.raises(AttributeError):
        setattr(a, "op", "!=")  # noqa: B010


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("pulldata('x', 'y')", 0, "pulldata() at character 1 is not supported"),
        ("${a} = today()", 7, "today() at character 8 is not supported"),
        ("${a} + 1 = 2", 5, "the operator + at character 6 is not supported"),
        ("${a} = 1 - 2", 9, "the operator - at character 10 is not supported"),
        ("${a} * 2 = 2", 5, "the operator * at character 6 is not supported"),
        ("/data/a = 1", 0, "the operator / at character 1 is not supported"),
        ("${a} = 1 | ${b} = 2", 9, "the operator | at character 10 is not supported"),
        ("${a} div 2 = 1", 5, "the operator div at character 6 is not supported"),
        ("${a} == 1", 5, "the operator == at character 6 is not supported: write ="),
        ("${a} = 'x", 7, "the text starting at character 8 has no closing quote"),
        ("${a = 1", 0, "${ at character 1 is not closed with }"),
        ("${a-b} = 1", 0, "${a-b} at character 1 is not a question name"),
        ("$a = 1", 0, "$ at character 1 must start a question name"),
        ("${a}", 0, "${a} at character 1 is a value, not a condition"),
        ("count-selected(${a})", 0, "the value at character 1 is not a condition"),
        ("${a} = 1 and ${b}", 13, "${b} at character 14 is a value, not a condition"),
        (". > 1", 0, ". at character 1 (the answer itself) can only be used in a constraint"),
        ("yes = ${a}", 0, "the word yes at character 1: put a text in quotes ('yes')"),
        ("${a} = 1 < 2", 9, "the second comparison at character 10"),
        ("(${a} = 1) = 2", 0, "the condition at character 1 cannot be compared with ="),
        ("not()", 0, "not() at character 1 needs a condition inside"),
        ("(${a} = 1", 0, "the ( at character 1 is not closed"),
        ("${a} = 1)", 8, ") at character 9 is not expected here"),
        ("${a} = 1 ${b} = 2", 9, "${b} at character 10 is not expected here"),
        ("${a} =", 6, "the expression ends too early"),
        ("", 0, "the expression is empty"),
        ("   ", 0, "the expression is empty"),
        ("${a} = 1 & ${b} = 2", 9, "the character & at character 10 is not allowed"),
        ("selected(${a})", 0, "selected() takes a question and a choice name"),
        ("selected(${a}, ${b})", 0, "selected() takes a question and a choice name"),
        ("selected('x', 'y')", 0, "selected() takes a question and a choice name"),
        ("count-selected(${a}, 'x') = 1", 0, "count-selected() takes one question"),
        ("string-length('x') = 1", 0, "string-length() takes one question"),
        ("${a} = 1" + "0" * 400, 7, "the number at character 8 is too large"),
        ("(" * 60 + "${a} = 1" + ")" * 60, 40, "the expression is nested too deeply"),
        ("${a} = 'x' and " * 200 + "${a} = 1", 2000, "longer than 2000 characters"),
    ],
)
def test_parse_errors(text, position, message):
    with pytest.raises(ExpressionError) as caught:
        parse(text, allow_dot=False)
    assert caught.value.position == position
    assert message in caught.value.message
    assert str(caught.value) == caught.value.message


def test_parse_refuses_what_is_not_text():
    with pytest.raises(ExpressionError):
        parse(None)  # type: ignore[arg-type]


def test_names():
    assert names(parse("selected(${help}, 'medical') and ${age} >= 60 or ${age} = 1")) == {
        "help",
        "age",
    }
    assert names(parse(". > ${min}", allow_dot=True)) == frozenset({"min"})
    assert names(parse("'a' = 'a'")) == frozenset()


def test_to_json():
    assert to_json(
        parse(
            "(selected(${help}, 'medical') or ${age} >= 60.5) and not(string-length(.) != 3) "
            "and count-selected(${help}) < -2",
            allow_dot=True,
        )
    ) == [
        "and",
        ["or", ["selected", ["ref", "help"], "medical"], [">=", ["ref", "age"], ["num", 60.5]]],
        ["not", ["!=", ["string-length", ["dot"]], ["num", 3]]],
        ["<", ["count-selected", ["ref", "help"]], ["num", -2]],
    ]
    tree = to_json(parse("${a} = 'x'"))
    assert json.loads(json.dumps(tree)) == tree


# --- Evaluating -----------------------------------------------------------------------------

CASES: list[tuple[str, dict[str, object], object, bool]] = [
    # (expression, answers, current, expected)
    ("${water_ok} = 'no'", {"water_ok": "no"}, None, True),
    ("${water_ok} = 'no'", {"water_ok": "yes"}, None, False),
    ("${water_ok} = 'no'", {}, None, False),
    ("${water_ok} != 'no'", {}, None, True),
    ("${q} = ''", {}, None, True),
    ("${q} = ''", {"q": None}, None, True),
    ("${q} = ''", {"q": ""}, None, True),
    ("${q} = ''", {"q": 0}, None, False),
    ("${q} != ''", {"q": 0}, None, True),
    ("${q} != ''", {"q": "x"}, None, True),
    ("${q} != ''", {}, None, False),
    # '' against a number: false for = < > <= >=, true for !=
    ("${age} >= 60", {}, None, False),
    ("${age} < 60", {}, None, False),
    ("${age} = 0", {}, None, False),
    ("${age} <= 0", {"age": ""}, None, False),
    ("${age} != 60", {}, None, True),
    # numbers and numeric texts compare as numbers
    ("${age} >= 60", {"age": 60}, None, True),
    ("${age} >= 60", {"age": "60"}, None, True),
    ("${age} >= 60", {"age": " 61 "}, None, True),
    ("${age} >= 60", {"age": "59.99"}, None, False),
    ("${age} >= 60", {"age": 59.5}, None, False),
    ("${age} >= 60", {"age": Decimal("60.0")}, None, True),
    ("${age} = 60", {"age": "60.0"}, None, True),
    ("${age} = '60'", {"age": 60}, None, True),
    ("${a} < ${b}", {"a": "9", "b": "10"}, None, True),
    ("${a} < ${b}", {"a": "a", "b": "b"}, None, False),  # texts do not order
    ("${a} = ${b}", {"a": "a", "b": "a"}, None, True),
    ("${a} = ${b}", {"a": "", "b": ""}, None, True),
    ("${age} > -1", {"age": "-.5"}, None, True),
    ("${age} >= 60", {"age": "60岁"}, None, False),
    ("${age} != 60", {"age": "60岁"}, None, True),
    ("${age} = 60", {"age": "6e1"}, None, False),  # no exponent
    ("${age} = 60", {"age": "+60"}, None, False),
    ("${age} = 60", {"age": "٦٠"}, None, False),  # only ASCII digits
    ("${n} > 1000", {"n": 10**400}, None, True),
    ("${n} < 0", {"n": -(10**400)}, None, True),
    # wrong kinds make comparisons false, both ways
    ("${q} = ''", {"q": True}, None, False),
    ("${q} != ''", {"q": True}, None, False),
    ("${q} = 1", {"q": True}, None, False),
    ("${q} != 1", {"q": {"a": 1}}, None, False),
    ("${q} = 'x'", {"q": ["x", 1]}, None, False),
    ("${q} = 'x'", {"q": b"x"}, None, False),
    ("${q} = 1", {"q": Decimal("NaN")}, None, False),
    ("${q} != 1", {"q": float("nan")}, None, True),
    ("${q} = 1", {"q": Decimal("sNaN")}, None, False),
    # select_one is its choice name; select_multiple a list or ODK's space-separated text
    ("selected(${help}, 'medical')", {"help": ["money", "medical"]}, None, True),
    ("selected(${help}, 'medical')", {"help": ["money"]}, None, False),
    ("selected(${help}, 'medical')", {"help": "money medical"}, None, True),
    ("selected(${help}, 'medical')", {"help": "medical"}, None, True),
    ("selected(${help}, 'med')", {"help": "medical"}, None, False),
    ("selected(${help}, 'medical')", {}, None, False),
    ("selected(${help}, 'medical')", {"help": 3}, None, False),
    ("selected(${help}, 'medical')", {"help": ["medical", 3]}, None, False),
    ("selected(${help}, 'medical')", {"help": ("medical",)}, None, True),
    ("${help} = ''", {"help": []}, None, True),
    ("${help} = 'a b'", {"help": ["a", "b"]}, None, True),
    ("count-selected(${help}) = 2", {"help": ["a", "b"]}, None, True),
    ("count-selected(${help}) = 2", {"help": " a  b "}, None, True),
    ("count-selected(${help}) = 0", {}, None, True),
    ("count-selected(${help}) = 0", {"help": 5}, None, False),
    ("count-selected(${help}) != 0", {"help": 5}, None, False),
    # string-length counts characters; a number is not a text
    ("string-length(${phone}) = 11", {"phone": "13800138000"}, None, True),
    ("string-length(${phone}) = 2", {"phone": "张三"}, None, True),
    ("string-length(${phone}) = 1", {"phone": "😀"}, None, True),
    ("string-length(${phone}) = 0", {}, None, True),
    ("string-length(${phone}) = 11", {"phone": 13800138000}, None, False),
    ("string-length(${phone}) = 3", {"phone": ["a", "b"]}, None, True),
    # and / or / not
    ("selected(${help}, 'medical') and ${age} >= 60", {"help": ["medical"], "age": 70}, None, True),
    (
        "selected(${help}, 'medical') and ${age} >= 60",
        {"help": ["medical"], "age": 50},
        None,
        False,
    ),
    ("selected(${help}, 'medical') and ${age} >= 60", {"age": 70}, None, False),
    ("selected(${help}, 'medical') or ${age} >= 60", {"age": 70}, None, True),
    ("selected(${help}, 'medical') or ${age} >= 60", {}, None, False),
    ("not(${water_ok} = 'no')", {}, None, True),
    ("not(${water_ok} = 'no')", {"water_ok": "no"}, None, False),
    ("${a} = 1 or ${b} = 1 and ${c} = 1", {"a": 1}, None, True),
    ("${a} = 1 or ${b} = 1 and ${c} = 1", {"b": 1}, None, False),
    ("(${a} = 1 or ${b} = 1) and ${c} = 1", {"a": 1}, None, False),
    # a literal on the left, or on both sides
    ("60 <= ${age}", {"age": "61"}, None, True),
    ("'no' = ${water_ok}", {"water_ok": "no"}, None, True),
    ("'' != ${water_ok}", {}, None, False),
    ("'a' = 'a'", {}, None, True),
    ("1 < 2", {}, None, True),
    ("'1' = 1.0", {}, None, True),
    ("'b' > 'a'", {}, None, False),
    # . is the answer being checked
    (". >= 0 and . <= 120", {}, 42, True),
    (". >= 0 and . <= 120", {}, "121", False),
    (". >= 0 and . <= 120", {}, None, False),
    (". > ${min}", {"min": 3}, 4, True),
    ("string-length(.) = 11", {}, "13800138000", True),
    ("not(selected(., 'none') and count-selected(.) > 1)", {}, ["none", "a"], False),
    ("not(selected(., 'none') and count-selected(.) > 1)", {}, ["none"], True),
]


@pytest.mark.parametrize(("text", "answers", "current", "expected"), CASES)
def test_evaluate(text, answers, current, expected):
    assert evaluate(parse(text, allow_dot=True), answers, current) is expected


def test_evaluate_never_raises_on_a_broken_mapping():
    class Broken(dict):
        def get(self, *args, **kwargs):
            raise RuntimeError("boom")

    assert evaluate(parse("${a} = ''"), Broken()) is False


# --- Properties -----------------------------------------------------------------------------

NAMES = ("a", "b", "help", "age")
CHOICES = ("x", "y", "medical", "1", "2", "")

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(CHOICES),
    st.from_regex(r"\A[ \t]?-?[0-9]{0,3}(\.[0-9]{0,3})?[ \t]?\Z"),
    st.text(max_size=6),
)
json_values = st.one_of(
    json_scalars,
    st.lists(st.sampled_from(CHOICES) | st.text(max_size=3), max_size=4),
    st.lists(json_scalars, max_size=3),
    st.dictionaries(st.sampled_from(NAMES), json_scalars, max_size=2),
)
json_answers = st.dictionaries(st.sampled_from(NAMES), json_values, max_size=4)
any_values = st.one_of(
    json_values,
    st.floats(),
    st.integers(),
    st.decimals(),
    st.binary(max_size=3),
    st.tuples(st.text(max_size=2)),
    st.sets(st.integers(max_value=3)),
    st.builds(object),
)
any_answers = st.dictionaries(st.sampled_from(NAMES), any_values, max_size=4)

quoted_text = st.text(max_size=5).filter(lambda s: not ("'" in s and '"' in s))
targets = st.one_of(st.builds(Ref, st.sampled_from(NAMES)), st.just(Current()))
numbers = st.one_of(
    st.integers(min_value=-1000, max_value=1000).map(float),
    st.decimals(min_value=-1000, max_value=1000, places=2).map(float),
)
values = st.one_of(
    targets,
    st.builds(Text, st.sampled_from(CHOICES) | quoted_text),
    st.builds(Number, numbers),
    st.builds(CountSelected, targets),
    st.builds(StringLength, targets),
)
leaves = st.one_of(
    st.builds(Compare, st.sampled_from(("=", "!=", "<", "<=", ">", ">=")), values, values),
    st.builds(Selected, targets, st.sampled_from(CHOICES) | quoted_text),
)
trees = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(And, st.lists(inner, min_size=2, max_size=3).map(tuple)),
        st.builds(Or, st.lists(inner, min_size=2, max_size=3).map(tuple)),
        st.builds(Not, inner),
    ),
    max_leaves=8,
)


def unparse(e: Expr) -> str:
    """The text of a tree (the test's own writer, for the round trip)."""
    if isinstance(e, Ref):
        return "${" + e.name + "}"
    if isinstance(e, Current):
        return "."
    if isinstance(e, Text):
        return f'"{e.value}"' if "'" in e.value else f"'{e.value}'"
    if isinstance(e, Number):
        return format(Decimal(e.value), "f")
    if isinstance(e, Compare):
        return f"{unparse(e.left)} {e.op} {unparse(e.right)}"
    if isinstance(e, And | Or):
        word = " and " if isinstance(e, And) else " or "
        return word.join(
            f"({unparse(p)})" if isinstance(p, And | Or) else unparse(p) for p in e.parts
        )
    if isinstance(e, Not):
        return f"not({unparse(e.operand)})"
    if isinstance(e, Selected):
        return f"selected({unparse(e.target)}, {unparse(Text(e.choice))})"
    if isinstance(e, CountSelected):
        return f"count-selected({unparse(e.target)})"
    assert isinstance(e, StringLength)
    return f"string-length({unparse(e.target)})"


@settings(max_examples=300, deadline=None)
@given(trees)
def test_parse_reads_back_what_is_written(tree):
    assert parse(unparse(tree), allow_dot=True) == tree


@settings(max_examples=500, deadline=None)
@given(trees, any_answers, any_values)
def test_evaluate_never_raises(tree, answers, current):
    assert evaluate(tree, answers, current) in (True, False)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_parse_raises_only_expression_errors(text):
    try:
        parse(text, allow_dot=True)
    except ExpressionError as e:
        assert 0 <= e.position <= len(text)


# --- The phone's evaluator ------------------------------------------------------------------

NODE = shutil.which("node")


def run_js(cases: list[tuple[object, object, object]], tmp_path: Path) -> list[object]:
    data = tmp_path / "cases.json"
    data.write_text(json.dumps(cases), encoding="utf-8")
    script = (
        "const L = require(process.argv[1]);"
        "const cases = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));"
        "process.stdout.write(JSON.stringify(cases.map(c => L.evaluate(c[0], c[1], c[2]))));"
    )
    done = subprocess.run(  # noqa: S603
        [str(NODE), "-e", script, str(LOGIC_JS), str(data)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def fixed_cases() -> list[tuple[Expr, dict[str, object], object]]:
    """The truth-table cases whose answers JSON can carry, and every expression of them
    against every answer set of them (some 3,000 cases)."""

    def jsonable(v: object) -> bool:
        try:
            return json.loads(json.dumps(v, allow_nan=False)) == v
        except (TypeError, ValueError):
            return False

    exprs = {parse(text, allow_dot=True) for text, *_ in CASES}
    answer_sets = [a for _, a, _, _ in CASES if jsonable(a)]
    currents = [c for _, _, c, _ in CASES if jsonable(c)]
    out: list[tuple[Expr, dict[str, object], object]] = []
    for k, expr in enumerate(sorted(exprs, key=repr)):
        for j, answers in enumerate(answer_sets):
            out.append((expr, answers, currents[(j + k) % len(currents)]))
    return out


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_js_agrees_on_the_fixed_cases(tmp_path):
    cases = fixed_cases()
    assert len(cases) >= 100
    expected = [evaluate(e, a, c) for e, a, c in cases]
    got = run_js([(to_json(e), a, c) for e, a, c in cases], tmp_path)
    differ = [
        (to_json(cases[i][0]), cases[i][1], cases[i][2], expected[i])
        for i in range(len(cases))
        if got[i] != expected[i]
    ]
    assert differ == []
    assert True in expected and False in expected


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_js_agrees_on_generated_cases(tmp_path):
    """Hypothesis draws the cases one by one (so they vary), node evaluates them all at once."""
    cases: list[tuple[Expr, dict[str, object], object]] = []

    @settings(max_examples=1000, deadline=None, database=None)
    @given(trees, json_answers, json_values)
    def collect(tree, answers, current):
        cases.append((tree, answers, current))

    collect()
    expected = [evaluate(t, a, c) for t, a, c in cases]
    got = run_js([(to_json(t), a, c) for t, a, c in cases], tmp_path)
    differ = [
        (to_json(cases[i][0]), cases[i][1], cases[i][2], expected[i])
        for i in range(len(cases))
        if got[i] != expected[i]
    ]
    assert differ == []
    assert expected.count(True) > 50 and expected.count(False) > 50
