"""Made-up issue texts for tests, the demo and the benchmark (no real residents' words).

``fake_issue_texts`` draws from templates per category of the default taxonomy (migration issues
0002) and fills them with place words, durations, people and requests, so two issues about the same
kind of problem share some words but rarely the whole sentence — roughly how residents describe
things to a grid worker.
"""

from __future__ import annotations

import random

PLACES = (
    "村东头",
    "村西头",
    "南头",
    "北头",
    "一组",
    "二组",
    "三组",
    "四组",
    "后庄",
    "前庄",
    "老街",
    "村部旁边",
    "学校门口",
    "小桥边",
    "老井边",
    "大路口",
    "卫生室后面",
    "新村小区",
    "养殖场附近",
    "河堤下面",
)
SINCE = (
    "好几天了",
    "一个多星期了",
    "半个月了",
    "一个多月了",
    "从上周开始",
    "今年夏天以来",
    "去年冬天就这样",
    "这两天",
    "最近",
    "前天夜里",
)
WHO = (
    "我家",
    "俺家",
    "我们几户",
    "周围邻居",
    "村里老人",
    "组里十几户",
    "我母亲",
    "住户",
    "村民",
    "附近群众",
)
ASK = (
    "希望尽快解决",
    "请村里帮忙协调",
    "麻烦派人来看看",
    "请有关部门处理",
    "反映过一次还没人管",
    "盼早点修好",
    "希望给个答复",
    "请镇里重视一下",
    "",
    "",
)

# category code → (title templates, description templates); {place} {since} {who} {ask} and the
# category's own slots (first word list after the templates) are filled in.
TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[str, ...], dict[str, tuple[str, ...]]]] = {
    "road": (
        ("{road}坑洼不平", "{road}损坏", "道路破损影响出行", "{road}需要修补"),
        (
            "{place}的{road}{damage}，{since}，下雨天积水，{who}出行很不方便，{ask}",
            "{road}{damage}，电动车经常摔倒，{ask}",
            "{place}{road}年久失修，{damage}，学生上学不安全，{ask}",
        ),
        {
            "road": ("水泥路", "村村通公路", "生产路", "进村道路", "巷道", "桥面"),
            "damage": ("坑坑洼洼", "裂了好几道缝", "塌了一块", "被大车压坏", "路基下沉"),
        },
    ),
    "irrigation": (
        ("灌溉水渠{damage}", "{facility}损坏", "浇地困难", "农田灌溉问题"),
        (
            "{place}的{facility}{damage}，{since}，水流不到地里，{crop}缺水，{ask}",
            "{facility}{damage}，浇不了地，{who}的{crop}快旱死了，{ask}",
            "{since}{facility}一直没修，{damage}，{crop}浇水要从很远拉水，{ask}",
        ),
        {
            "facility": ("灌溉水渠", "机井", "排灌站", "斗渠", "地下管道", "抽水泵"),
            "damage": ("破了", "漏水", "堵死了", "坏了", "没电抽不上水", "塌方"),
            "crop": ("小麦", "玉米", "庄稼", "菜地", "药材", "大豆"),
        },
    ),
    "drinking_water": (
        ("自来水{problem}", "饮水问题", "吃水困难"),
        (
            "{place}自来水{problem}，{since}，{who}做饭洗衣都成问题，{ask}",
            "{who}反映自来水{problem}，水里有{smell}，不敢喝，{ask}",
            "{since}经常停水，{problem}，老人挑水很困难，{ask}",
        ),
        {
            "problem": ("停水", "水压太小", "水发黄", "管子冻裂", "水表漏水"),
            "smell": ("怪味", "泥沙", "铁锈", "漂白粉味"),
        },
    ),
    "power": (
        ("{what}", "用电问题", "线路隐患"),
        (
            "{place}{what}，{since}，{who}冰箱里的东西都坏了，{ask}",
            "{place}的{line}{hazard}，刮风时很危险，{ask}",
            "{since}晚上电压低，{what}，空调开不起来，{ask}",
        ),
        {
            "what": ("经常停电", "电压不稳", "变压器烧了", "电线老化", "电表跳闸"),
            "line": ("电线杆", "低压线", "电缆", "变压器"),
            "hazard": ("歪了", "垂得很低", "挨着树枝", "外皮破损"),
        },
    ),
    "housing": (
        ("危房{issue}", "住房安全隐患", "房屋漏雨"),
        (
            "{who}的老房子{issue}，{since}，一下雨就漏，住着害怕，{ask}",
            "{place}有一户{issue}，墙体开裂，申请危房改造，{ask}",
        ),
        {"issue": ("屋顶漏雨", "墙裂缝", "房梁腐朽", "地基下沉", "院墙倒塌")},
    ),
    "land": (
        ("宅基地{issue}", "土地确权问题", "承包地纠纷"),
        (
            "{who}的宅基地{issue}，{since}，找了几次没解决，{ask}",
            "{place}承包地{issue}，确权证上面积不对，{ask}",
        ),
        {"issue": ("边界不清", "被人占用", "审批没下来", "面积登记错了", "流转费没给")},
    ),
    "social_security": (
        ("{insurance}{issue}", "社保问题", "医保报销咨询"),
        (
            "{who}的{insurance}{issue}，{since}，不知道去哪里办，{ask}",
            "老人{insurance}{issue}，去镇里跑了两趟，{ask}",
        ),
        {
            "insurance": ("养老保险", "医保", "新农合", "社保卡"),
            "issue": ("没到账", "报销不了", "缴费断了", "信息录错了", "补办很慢"),
        },
    ),
    "employment": (
        ("{what}", "就业求助", "务工工资问题"),
        (
            "{who}想{what}，{since}，没有门路，{ask}",
            "在外务工{what}，老板一直拖着，{ask}",
        ),
        {"what": ("找份工作", "参加技能培训", "申请创业贷款", "讨要工资", "工资被拖欠")},
    ),
    "assistance": (
        ("低保{issue}", "困难救助申请", "低保问题"),
        (
            "{who}家里困难，低保{issue}，{since}，生活没有着落，{ask}",
            "{place}一户残疾人低保{issue}，想问问怎么申请临时救助，{ask}",
            "低保评议不公平，{issue}，{who}有意见，{ask}",
        ),
        {"issue": ("被取消了", "申请没批", "钱没按时发", "标准不清楚", "年审没通过")},
    ),
    "elderly": (
        ("老人{need}", "养老服务需求", "独居老人照顾"),
        (
            "{place}独居老人{need}，{since}，子女在外地打工，{ask}",
            "{who}年纪大了{need}，希望有人上门，{ask}",
        ),
        {"need": ("没人照顾", "吃饭困难", "看病没人陪", "想进养老院", "高龄补贴没领到")},
    ),
    "health": (
        ("{what}", "看病难", "村卫生室问题"),
        (
            "{place}卫生室{what}，{since}，{who}看病要跑到镇上，{ask}",
            "{who}慢性病{what}，买药不方便，{ask}",
        ),
        {"what": ("经常没人", "缺药", "医生走了", "不能刷医保", "慢病卡办不下来")},
    ),
    "education": (
        ("孩子{issue}", "上学问题", "入学咨询"),
        (
            "{who}的孩子{issue}，{since}，{ask}",
            "{place}的孩子上学{issue}，校车不通，{ask}",
        ),
        {"issue": ("入学报不上名", "转学手续办不了", "路太远", "资助没发", "营养餐有问题")},
    ),
    "environment": (
        ("{what}", "环境卫生问题", "垃圾清运不及时"),
        (
            "{place}{what}，{since}，夏天臭味很大，苍蝇多，{ask}",
            "{place}{what}，{who}受不了，{ask}",
        ),
        {
            "what": (
                "垃圾堆没人清运",
                "养殖场粪水乱排",
                "秸秆有人焚烧",
                "污水沟堵了",
                "公厕没人打扫",
            )
        },
    ),
    "public_order": (
        ("{what}", "治安隐患", "安全问题"),
        (
            "{place}{what}，{since}，{who}晚上不敢出门，{ask}",
            "{place}{what}，存在安全隐患，{ask}",
        ),
        {"what": ("路灯不亮", "有人偷电动车", "有人赌博", "坑塘没有护栏", "大货车超速")},
    ),
    "dispute": (
        ("邻里{what}纠纷", "邻里矛盾", "纠纷调解"),
        (
            "{who}和邻居因为{what}闹矛盾，{since}，吵了好几次，{ask}",
            "{place}两户人家为{what}起争执，差点动手，{ask}",
        ),
        {"what": ("排水", "盖房挡光", "树木越界", "借钱不还", "占路堆柴火", "宅基地边界")},
    ),
    "agriculture": (
        ("{what}", "农业生产问题", "种植技术求助"),
        (
            "{place}的{crop}{what}，{since}，{ask}",
            "{who}种的{crop}{what}，不知道打什么药，{ask}",
        ),
        {
            "what": ("得了病虫害", "种子不出苗", "化肥质量差", "收购价太低", "补贴没发"),
            "crop": ("小麦", "玉米", "药材", "花生", "蔬菜大棚"),
        },
    ),
    "property": (
        ("小区{what}", "物业问题", "物业服务差"),
        (
            "新村小区{what}，{since}，物业不管，{ask}",
            "{who}所在楼栋{what}，{ask}",
        ),
        {"what": ("电梯坏了", "楼道灯不亮", "下水道堵了", "乱收停车费", "门禁坏了")},
    ),
    "city": (
        ("{what}", "市容问题", "占道经营"),
        (
            "{place}{what}，{since}，影响通行，{ask}",
            "老街{what}，晚上噪音大，{ask}",
        ),
        {"what": ("占道摆摊", "乱停车", "广告牌歪了", "烧烤油烟扰民", "建筑垃圾乱倒")},
    ),
    "policy": (
        ("咨询{what}", "政策咨询", "政策问题"),
        (
            "{who}想了解{what}，{since}，没人讲清楚，{ask}",
            "请问{what}怎么申请，需要什么材料，{ask}",
        ),
        {"what": ("残疾人补贴", "退役军人优待", "耕地地力补贴", "危房改造政策", "独生子女奖励")},
    ),
}

CATEGORY_WEIGHTS = {
    "road": 12,
    "irrigation": 8,
    "drinking_water": 7,
    "power": 8,
    "housing": 5,
    "land": 6,
    "social_security": 6,
    "employment": 4,
    "assistance": 7,
    "elderly": 5,
    "health": 4,
    "education": 4,
    "environment": 8,
    "public_order": 5,
    "dispute": 7,
    "agriculture": 5,
    "property": 2,
    "city": 2,
    "policy": 5,
}


def fake_issue_texts(rng: random.Random, n: int) -> list[tuple[str, str, str]]:
    """``n`` made-up issues as (category code, title, description), drawn with ``rng``."""
    codes = list(CATEGORY_WEIGHTS)
    weights = [CATEGORY_WEIGHTS[c] for c in codes]
    out: list[tuple[str, str, str]] = []
    for code in rng.choices(codes, weights=weights, k=n):
        titles, descriptions, slots = TEMPLATES[code]
        values = {name: rng.choice(words) for name, words in slots.items()}
        values.update(
            place=rng.choice(PLACES), since=rng.choice(SINCE), who=rng.choice(WHO), ask=""
        )
        title = rng.choice(titles).format(**values)[:100]
        values["ask"] = rng.choice(ASK)
        description = rng.choice(descriptions).format(**values).rstrip("，") + "。"
        out.append((code, title, description))
    return out
