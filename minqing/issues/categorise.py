"""Guessing a new problem's category from its words (问题分类推测).

One function, ``guess_category``, for every place a problem is typed: the registration page
(while the reporter types) and the problems raised on a visit. It asks, in order:

1. the alike open issues of the town (``similarity.similar_issues``): the category most of
   them carry, weighted by their score — the county's own habits win over any word list;
2. the words of the categories: ``KEYWORDS`` of the default taxonomy (migration issues 0002)
   and every active category's own name; the category whose words cover most characters of
   the text wins, ties going to the one listed first.

Nothing found: ``None`` — the page leaves the choice empty, a visit files it under "other".
"""

from __future__ import annotations

import unicodedata

from minqing.issues.models import Category, Issue

#: Words that point to a category of the default taxonomy (by its code). Short and common:
#: what a resident says, not what a form would say.
KEYWORDS: dict[str, tuple[str, ...]] = {
    "road": ("道路", "路面", "路灯", "修路", "马路", "桥", "公交", "交通", "红绿灯", "坑洼", "路"),
    "irrigation": ("灌溉", "水渠", "沟渠", "浇地", "浇不了", "机井", "泵站", "排涝"),
    "drinking_water": ("饮水", "自来水", "吃水", "水质", "停水", "水管", "水压"),
    "power": ("停电", "断电", "电线", "电压", "电表", "电费", "变压器", "供电", "电"),
    "housing": ("危房", "房屋", "漏雨", "房顶", "裂缝", "倒塌", "改造"),
    "land": ("宅基地", "承包地", "土地", "确权", "占地", "征地"),
    "social_security": ("社保", "医保", "养老保险", "报销", "参保"),
    "employment": ("就业", "找工作", "招工", "创业", "技能培训", "工资"),
    "assistance": ("低保", "救助", "困难户", "补助", "临时救助", "特困"),
    "elderly": ("老人", "养老", "独居", "敬老院", "助餐"),
    "health": ("看病", "医生", "卫生室", "吃药", "药", "住院", "医院"),
    "education": ("上学", "学校", "入学", "教育", "学费", "孩子读书"),
    "environment": ("垃圾", "污水", "臭", "厕所", "环境卫生", "粪", "烧秸秆"),
    "public_order": ("偷", "被盗", "治安", "打架", "诈骗", "赌博"),
    "dispute": ("纠纷", "吵架", "矛盾", "邻居", "闹"),
    "agriculture": ("种子", "化肥", "庄稼", "农药", "养殖", "病虫害", "农机"),
    "property": ("物业", "电梯", "小区", "楼道"),
    "city": ("占道", "摆摊", "城管", "乱停", "广告牌"),
    "market": ("假货", "价格", "消费", "商店", "缺斤少两"),
    "policy": ("政策", "咨询", "怎么办理", "手续"),
}


def guess_category(text: str, *, town_id: int, village_id: int | None = None) -> int | None:
    """The id of the likeliest active category for ``text``, or None (see the module doc)."""
    text = unicodedata.normalize("NFKC", text or "").strip()
    if len(text) < 2:
        return None
    active = {c.pk: c for c in Category.objects.filter(active=True)}
    alike = _alike_vote(text, town_id=town_id, village_id=village_id)
    if alike is not None and alike in active:
        return alike
    return guess_by_words(text, list(active.values()))


def _alike_vote(text: str, *, town_id: int, village_id: int | None) -> int | None:
    from minqing.issues.similarity import similar_issues

    found = similar_issues(
        text=text, category_id=None, village_id=village_id, town_id=town_id, limit=7
    )
    if not found:
        return None
    categories = dict(
        Issue.objects.filter(pk__in=[s.issue_id for s in found]).values_list("pk", "category_id")
    )
    votes: dict[int, float] = {}  # category id → the scores of its alike issues
    for s in found:
        category = categories.get(s.issue_id)
        if category is not None:
            votes[category] = votes.get(category, 0.0) + s.score
    return max(votes, key=votes.__getitem__) if votes else None


def guess_by_words(text: str, categories: list[Category]) -> int | None:
    """The category whose words cover most characters of ``text`` (each character counted once,
    longer words first); categories in their display order break ties."""
    best: tuple[int, int | None] = (0, None)
    for category in categories:
        words = {*KEYWORDS.get(category.code, ()), category.name}
        covered = [False] * len(text)
        for word in sorted(words, key=len, reverse=True):
            start = text.find(word)
            while word and start >= 0:
                for i in range(start, start + len(word)):
                    covered[i] = True
                start = text.find(word, start + len(word))
        score = sum(covered)
        if score > best[0]:
            best = (score, category.pk)
    return best[1]
