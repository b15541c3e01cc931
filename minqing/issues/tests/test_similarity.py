"""Similar issues on registration, the term index behind them, and alike groups (一类事)."""

from __future__ import annotations

import io
import random

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from minqing.demo.issue_texts import fake_issue_texts
from minqing.demo.similarity_reference import similar_issues_bruteforce
from minqing.issues.models import Category, Colour, Issue, IssueTerm, Level, Source, Status
from minqing.issues.similarity import (
    MIN_SCORE,
    Similar,
    index_issue,
    index_issues_bulk,
    similar_issues,
    similar_to_issue,
    sync_index,
    terms,
    unindex_issue,
)
from minqing.issues.topics import alike_groups
from minqing.org.models import Level as NodeLevel
from minqing.org.models import Node
from minqing.org.services import node_create

IRRIGATION = [
    ("灌溉水渠破了", "村东头的灌溉水渠破了，水流不到地里"),
    ("水渠漏水", "东边那条水渠漏水，浇不了地"),
    ("灌溉渠坏了", "灌溉渠坏了好几天了，庄稼缺水"),
]
# Thirty other complaints of one village, some sharing characters with the irrigation ones.
UNRELATED = [
    ("road", "村口道路坑洼", "村口的水泥路坑坑洼洼，下雨天积水，电动车经常摔倒"),
    ("road", "生产路损坏", "通往田里的生产路被大车压坏了，拖拉机过不去"),
    ("road", "桥面破损", "小桥边的桥面塌了一块，学生上学不安全"),
    ("power", "经常停电", "二组这个月经常停电，冰箱里的东西都坏了"),
    ("power", "电线杆歪了", "村东头的电线杆歪了，刮风时很危险"),
    ("power", "电压不稳", "晚上电压低，空调开不起来，灯一闪一闪的"),
    ("assistance", "低保被取消", "我家里困难，低保被取消了，不知道什么原因"),
    ("assistance", "低保申请", "想问问残疾人怎么申请低保和临时救助"),
    ("assistance", "低保钱没发", "低保的钱三个月没按时发了，生活没有着落"),
    ("dispute", "邻里纠纷", "和邻居因为排水的事闹矛盾，吵了好几次"),
    ("dispute", "盖房挡光", "邻居盖新房挡了我家的光，协商不成"),
    ("dispute", "树木越界", "邻居家的树长过来压着我家房顶，说了不砍"),
    ("public_order", "路灯不亮", "村里主干道的路灯坏了半个月，晚上黑乎乎的不敢出门"),
    ("public_order", "路灯坏了", "学校门口那几盏路灯不亮了，孩子晚自习回家不安全"),
    ("public_order", "坑塘没护栏", "村西头坑塘没有护栏，小孩在边上玩很危险"),
    ("drinking_water", "自来水停水", "自来水停水三天了，做饭洗衣都成问题"),
    ("drinking_water", "水发黄", "自来水发黄有铁锈味，不敢喝"),
    ("environment", "垃圾没人清运", "村部旁边的垃圾堆没人清运，夏天臭味很大"),
    ("environment", "粪水乱排", "养殖场粪水乱排到沟里，苍蝇多"),
    ("environment", "秸秆焚烧", "地里有人焚烧秸秆，烟很大"),
    ("housing", "屋顶漏雨", "老房子屋顶漏雨，一下雨就漏，住着害怕"),
    ("housing", "危房改造", "申请危房改造，墙体开裂，一直没批下来"),
    ("land", "宅基地边界", "宅基地边界不清，和隔壁说不好"),
    ("social_security", "医保报销", "住院的医保报销不了，跑了两趟镇里"),
    ("social_security", "养老金没到账", "老人的养老保险这个月没到账"),
    ("elderly", "独居老人", "独居老人没人照顾，子女在外地打工"),
    ("health", "卫生室缺药", "村卫生室经常缺药，看病要跑到镇上"),
    ("education", "入学报名", "孩子入学报不上名，户口在外地"),
    ("agriculture", "小麦病虫害", "地里的小麦得了病虫害，不知道打什么药"),
    ("employment", "工资拖欠", "在外务工工资被拖欠，老板一直拖着"),
]


def make_issue(
    village: Node,
    title: str,
    description: str,
    *,
    category: str = "irrigation",
    status: str = Status.REGISTERED,
    index: bool = True,
) -> Issue:
    issue = Issue.objects.create(
        source=Source.VISIT,
        node=village,
        village=village,
        town_id=village.parent_id,
        node_path=village.path,
        category=Category.objects.get(code=category),
        colour=Colour.BLUE,
        level=Level.VILLAGE,
        title=title,
        description=description,
        status=status,
    )
    if index:
        index_issue(issue)
    return issue


def lookup(village: Node, title: str, description: str, category: str = "irrigation", **kw):
    return similar_issues(
        text=f"{title}\n{description}",
        category_id=Category.objects.get(code=category).pk,
        village_id=village.pk,
        town_id=village.parent_id,
        **kw,
    )


@pytest.fixture
def town_a_other_village(county) -> Node:
    return node_create(name="张集村", level=NodeLevel.VILLAGE, parent=county.town_a)


def test_terms_are_cjk_bigrams_unigrams_and_latin_words():
    assert terms("水渠漏水了！ＷｉＦｉ 4G 13812345678号") == {
        "水渠": 1,
        "渠漏": 1,
        "漏水": 1,
        "水": 2,
        "渠": 1,
        "漏": 1,
        "wifi": 1,
        "4g": 1,
        "号": 1,
    }
    assert terms("  ，。!? 123 ") == {}


def test_three_households_reporting_one_broken_channel(county):
    village = county.village_a
    unrelated = [make_issue(village, t, d, category=c) for c, t, d in UNRELATED]
    first = make_issue(village, *IRRIGATION[0])

    assert lookup(village, *IRRIGATION[1]) == [Similar(first.pk, 0.393, True)]
    second = make_issue(village, *IRRIGATION[1])
    assert lookup(village, *IRRIGATION[2]) == [
        Similar(first.pk, 0.402, True),
        Similar(second.pk, 0.158, True),
    ]
    # Every unrelated issue scores below the threshold against the irrigation texts.
    scores = {
        s.issue_id: s.score
        for text in IRRIGATION
        for s in lookup(village, *text, min_score=0, limit=100)
    }
    assert max(scores[i.pk] for i in unrelated if i.pk in scores) < MIN_SCORE


def test_unrelated_texts_do_not_find_the_channel(county):
    village = county.village_a
    channel = [make_issue(village, t, d) for t, d in IRRIGATION]
    for category, title, description in UNRELATED:
        make_issue(village, title, description, category=category)
    for category, title, description in UNRELATED:
        found = lookup(village, title, description, category=category, limit=100)
        assert not {s.issue_id for s in found} & {i.pk for i in channel}, title


def test_same_town_other_village_ranks_below_same_village(county, town_a_other_village):
    here = make_issue(county.village_a, *IRRIGATION[0])
    nearby = make_issue(town_a_other_village, *IRRIGATION[0])
    make_issue(county.village_b, *IRRIGATION[0])  # another town: never proposed

    assert lookup(county.village_a, *IRRIGATION[0]) == [
        Similar(here.pk, 1.0, True),
        Similar(nearby.pk, 0.92, False),
    ]
    assert lookup(town_a_other_village, *IRRIGATION[0]) == [
        Similar(nearby.pk, 1.0, True),
        Similar(here.pk, 0.92, False),
    ]
    # Another category: the same text without the category boost.
    assert lookup(county.village_a, *IRRIGATION[0], category="road") == [
        Similar(here.pk, 0.88, True),
        Similar(nearby.pk, 0.8, False),
    ]


def test_closed_and_merged_issues_leave_the_index(county):
    village = county.village_a
    survivor = make_issue(village, *IRRIGATION[0])
    merged = make_issue(village, *IRRIGATION[1])
    closed = make_issue(village, *IRRIGATION[2])
    assert IssueTerm.objects.filter(issue=merged).count() == len(terms("\n".join(IRRIGATION[1])))

    merged.status, merged.merged_into = Status.MERGED, survivor
    merged.save(update_fields=["status", "merged_into"])
    sync_index(merged)
    closed.status = Status.CLOSED
    closed.save(update_fields=["status"])
    sync_index(closed)

    assert IssueTerm.objects.filter(issue__in=[merged, closed]).count() == 0
    assert [s.issue_id for s in lookup(village, *IRRIGATION[2], min_score=0)] == [survivor.pk]
    assert similar_to_issue(survivor) == []

    closed.status = Status.REOPENED
    closed.save(update_fields=["status"])
    sync_index(closed)
    assert [s.issue_id for s in similar_to_issue(survivor, min_score=0)] == [closed.pk]


def test_index_issue_replaces_rows_and_unindex_removes_them(county):
    issue = make_issue(county.village_a, "路灯不亮", "路灯不亮")
    issue.description = "自来水停水"
    assert index_issue(issue) == len(terms("路灯不亮\n自来水停水"))
    assert set(IssueTerm.objects.filter(issue=issue).values_list("term", flat=True)) == set(
        terms("路灯不亮\n自来水停水")
    )
    assert set(
        IssueTerm.objects.filter(issue=issue).values_list("village_id_value", flat=True)
    ) == {county.village_a.pk}
    unindex_issue(issue.pk)
    assert not IssueTerm.objects.filter(issue=issue).exists()


def test_exclude_ids(county):
    one = make_issue(county.village_a, *IRRIGATION[0])
    two = make_issue(county.village_a, *IRRIGATION[0])
    found = lookup(county.village_a, *IRRIGATION[0], exclude_ids=[two.pk])
    assert [s.issue_id for s in found] == [one.pk]


def _bulk_issues(village: Node, n: int, seed: int = 1) -> list[Issue]:
    categories = {c.code: c for c in Category.objects.all()}
    issues = Issue.objects.bulk_create(
        Issue(
            source=Source.VISIT,
            node=village,
            village=village,
            town_id=village.parent_id,
            node_path=village.path,
            category=categories[code],
            colour=Colour.BLUE,
            level=Level.VILLAGE,
            title=title,
            description=description,
        )
        for code, title, description in fake_issue_texts(random.Random(seed), n)
    )
    index_issues_bulk(issues, batch_size=100)
    return issues


def test_query_count_does_not_grow_with_the_town(county):
    small, large = county.village_a, county.village_b
    _bulk_issues(small, 10)
    _bulk_issues(large, 300)
    counts = []
    irrigation = Category.objects.get(code="irrigation").pk
    for village in (small, large):
        with CaptureQueriesContext(connection) as ctx:
            found = similar_issues(
                text="\n".join(IRRIGATION[1]),
                category_id=irrigation,
                village_id=village.pk,
                town_id=village.parent_id,
                min_score=0,
            )
        assert found
        counts.append(len(ctx.captured_queries))
    assert counts == [4, 4]


def test_bulk_index_matches_per_issue_index(county):
    issues = _bulk_issues(county.village_a, 40)
    bulk = sorted(IssueTerm.objects.values_list("issue_id", "term", "count"))
    for issue in issues:
        index_issue(issue)
    assert sorted(IssueTerm.objects.values_list("issue_id", "term", "count")) == bulk


def test_bruteforce_and_index_agree(county, town_a_other_village):
    _bulk_issues(county.village_a, 250, seed=2)
    _bulk_issues(town_a_other_village, 150, seed=3)
    _bulk_issues(county.village_b, 100, seed=4)
    closed = make_issue(county.village_a, *IRRIGATION[0], status=Status.CLOSED)
    assert not IssueTerm.objects.filter(issue=closed).exists()
    categories = {c.code: c.pk for c in Category.objects.all()}
    for code, title, description in fake_issue_texts(random.Random(9), 40):
        query = {
            "text": f"{title}\n{description}",
            "category_id": categories[code],
            "village_id": county.village_a.pk,
            "town_id": county.town_a.pk,
        }
        indexed = similar_issues(**query, limit=5)
        assert indexed == similar_issues_bruteforce(**query, limit=5), description
        assert len(indexed) == 5


def test_a_text_of_common_words_only_still_finds_its_duplicates(county, monkeypatch):
    _bulk_issues(county.village_a, 60, seed=5)
    outage = make_issue(county.village_a, "经常停电", "经常停电", category="power")
    monkeypatch.setattr("minqing.issues.similarity.COMMON_FLOOR", 1)
    query = {
        "text": "经常停电",
        "category_id": Category.objects.get(code="power").pk,
        "village_id": county.village_a.pk,
        "town_id": county.town_a.pk,
    }
    found = similar_issues(**query)
    assert found[0] == Similar(outage.pk, 0.99, True)  # IDF weighs the query side only
    assert found == similar_issues_bruteforce(**query)


def test_alike_groups_span_villages_and_leave_singletons_out(county):
    lights = [
        make_issue(county.village_a, "路灯不亮", "村里主干道的路灯坏了，晚上不亮", category="road"),
        make_issue(county.village_a, "路灯坏了", "主干道路灯坏了半个月，晚上不亮", category="road"),
        make_issue(county.village_b, "路灯不亮", "村里主干道路灯坏了，晚上黑", category="road"),
        make_issue(county.village_b, "路灯坏了", "村主干道的路灯晚上不亮", category="road"),
    ]
    channel = [
        make_issue(county.village_a, *IRRIGATION[0]),
        make_issue(county.village_b, *IRRIGATION[0]),
    ]
    for category, title, description in UNRELATED:
        if "路灯" not in title:
            make_issue(county.village_b, title, description, category=category)

    groups = alike_groups(county_path=county.county.path)
    assert groups == [sorted(i.pk for i in lights)]
    assert alike_groups(county_path=county.county.path, min_size=2) == [
        sorted(i.pk for i in lights),
        sorted(i.pk for i in channel),
    ]
    road = Category.objects.get(code="road").pk
    assert alike_groups(county_path=county.county.path, category_id=road, min_size=2) == [
        sorted(i.pk for i in lights)
    ]
    assert alike_groups(county_path=county.village_a.path, min_size=2) == [
        sorted(i.pk for i in lights[:2])
    ]
    assert alike_groups(county_path=county.county.path, days=0) == []


def test_reindex_command_rebuilds_the_open_issues(county):
    open_issue = make_issue(county.village_a, *IRRIGATION[0], index=False)
    make_issue(county.village_a, *IRRIGATION[1], status=Status.CLOSED, index=False)
    IssueTerm.objects.create(
        issue=open_issue, town_id_value=1, village_id_value=1, term="stale", count=1
    )
    out = io.StringIO()
    call_command("reindex_issues", stdout=out)
    assert out.getvalue().startswith(f"{len(terms(chr(10).join(IRRIGATION[0])))} index rows")
    assert sorted(IssueTerm.objects.values_list("issue_id", "term")) == sorted(
        (open_issue.pk, t) for t in terms("\n".join(IRRIGATION[0]))
    )
