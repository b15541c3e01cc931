"""The columns of the household ledger (户籍台账 / 民情档案台账): one row per resident.

Counties keep these ledgers in Excel with slightly different headers, so headers are matched
tolerantly (spaces, "*" markers and bracketed hints are ignored, and common synonyms accepted).
Choice values are written as the words a ledger uses (户主, 男, 中共党员 …), never as codes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from minqing.households.models import Health, Politics, Relation, Sex
from minqing.households.services.validation import HEALTH_WORDS, POLITICS_WORDS, RELATION_WORDS


@dataclass(frozen=True)
class Column:
    """One ledger column: its key in the importer, its header, and how the template shows it."""

    key: str
    header: str
    synonyms: tuple[str, ...] = ()
    household: bool = False  # shared by every row of a household
    width: int = 10
    text: bool = False  # digits that Excel must keep as text (ID numbers, phones, numbers)


COLUMNS: tuple[Column, ...] = (
    Column(
        "village",
        "村/社区",
        (
            "村",
            "社区",
            "村社区",
            "村居",
            "所属村",
            "所属社区",
            "行政村",
            "村名",
            "社区名称",
            "村/社区名称",
            "村（社区）",
        ),
        True,
        12,
    ),
    Column(
        "grid",
        "组/网格",
        (
            "组",
            "网格",
            "组网格",
            "村民小组",
            "小组",
            "组别",
            "网格名称",
            "所属网格",
            "所属组",
            "组/网格名称",
        ),
        True,
        10,
    ),
    Column("number", "户编号", ("户号", "户编码", "家庭编号", "户籍编号"), True, 10, True),
    Column("head_name", "户主姓名", ("户主",), True, 10),
    Column("address", "家庭住址", ("住址", "地址", "家庭地址", "现住址", "居住地址"), True, 24),
    Column(
        "household_phone",
        "家庭联系电话",
        ("家庭电话", "户联系电话", "家庭联系方式"),
        True,
        14,
        True,
    ),
    Column(
        "tags", "重点户标签", ("标签", "重点户", "重点户类别", "户类别", "重点户类型"), True, 16
    ),
    Column(
        "income_source", "主要收入来源", ("收入来源", "家庭收入来源", "家庭主要收入来源"), True, 12
    ),
    Column("name", "姓名", ("成员姓名", "人员姓名", "家庭成员姓名", "家庭成员"), False, 10),
    Column("relation", "与户主关系", ("关系", "与户主的关系", "家庭关系"), False, 10),
    Column("sex", "性别", (), False, 6),
    Column(
        "id_number",
        "身份证号",
        ("身份证号码", "公民身份号码", "身份证", "公民身份证号码", "身份证件号码", "证件号码"),
        False,
        21,
        True,
    ),
    Column("birth_date", "出生日期", ("出生年月", "出生年月日", "生日"), False, 12),
    Column(
        "phone",
        "联系电话",
        ("手机号", "手机号码", "手机", "电话", "电话号码", "个人电话", "本人电话", "联系方式"),
        False,
        14,
        True,
    ),
    Column("politics", "政治面貌", (), False, 10),
    Column("education", "文化程度", ("学历",), False, 10),
    Column("occupation", "职业", ("从事职业",), False, 10),
    Column("works_away", "是否外出务工", ("外出务工", "是否外出"), False, 8),
    Column("health", "健康状况", ("健康", "身体状况"), False, 10),
    Column("notes", "备注", ("说明",), False, 20),
)
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}
HEADERS = [c.header for c in COLUMNS]
HOUSEHOLD_KEYS = tuple(c.key for c in COLUMNS if c.household)
RESIDENT_KEYS = tuple(c.key for c in COLUMNS if not c.household)

_NOISE = re.compile(r"[\s*＊:：]|[(（][^)）]*[)）]")


def normalize_header(text: object) -> str:
    """ "身份证 号码（18位）*" → "身份证号码": drop spaces, markers and bracketed hints."""
    return _NOISE.sub("", str(text or "")).replace("／", "/").replace("\\", "/")


_LOOKUP: dict[str, str] = {}
for _column in COLUMNS:
    for _name in (_column.header, *_column.synonyms):
        _LOOKUP.setdefault(normalize_header(_name), _column.key)


def column_key(header: object) -> str | None:
    """The column a header names, or None for a column the ledger import does not use."""
    return _LOOKUP.get(normalize_header(header))


#: Preferred words when writing a ledger; each maps back to the same code through validation.
SEX_WORD: dict[str, str] = {Sex.MALE: "男", Sex.FEMALE: "女"}
HEALTH_WORD: dict[str, str] = {
    Health.HEALTHY: "健康",
    Health.CHRONIC: "慢性病",
    Health.SERIOUS: "大病",
    Health.DISABLED: "残疾",
}
POLITICS_WORD: dict[str, str] = {
    Politics.MASSES: "群众",
    Politics.PARTY: "中共党员",
    Politics.LEAGUE: "共青团员",
    Politics.OTHER: "民主党派",
}
_RELATION_WORD = {
    Relation.HEAD: ("户主", "户主"),
    Relation.SPOUSE: ("配偶", "配偶"),
    Relation.CHILD: ("子", "女"),
    Relation.CHILD_IN_LAW: ("女婿", "儿媳"),
    Relation.GRANDCHILD: ("孙子", "孙女"),
    Relation.PARENT: ("父亲", "母亲"),
    Relation.GRANDPARENT: ("祖父", "祖母"),
    Relation.SIBLING: ("兄弟姐妹", "兄弟姐妹"),
    Relation.OTHER: ("其他", "其他"),
}
YES_WORDS = frozenset({"是", "Y", "y", "1", "true", "TRUE", "True"})
NO_WORDS = frozenset({"否", "N", "n", "0", "false", "FALSE", "False"})
TAG_SEPARATORS = re.compile(r"[、,，;；\s]+")


def relation_word(code: str, sex: str) -> str:
    """户主/配偶/子/女… as a ledger writes it (子 or 女 by the member's sex)."""
    if code == Relation.CHILD and not sex:
        return "子女"
    male, female = _RELATION_WORD.get(code, ("其他", "其他"))  # type: ignore[call-overload]
    return female if sex == Sex.FEMALE else male


def accepted_values() -> dict[str, list[str]]:
    """Words each choice column accepts, for the template's instruction sheet."""
    return {
        "与户主关系": list(RELATION_WORDS),
        "性别": ["男", "女"],
        "政治面貌": list(POLITICS_WORDS),
        "健康状况": list(HEALTH_WORDS),
        "是否外出务工": ["是", "否"],
    }


def split_tags(text: str) -> list[str]:
    return [t for t in TAG_SEPARATORS.split(text or "") if t]
