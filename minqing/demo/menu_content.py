"""The demo's quarterly menu (四季菜单): what fourteen county departments ask the households, in
eight themes, as the 谯城区 seed describes it — an urban and a rural version, "ABCD, 是否, 好坏"
answers, a greeting and self-introduction, the answers that raise an issue.

Each department's checklist is written here as plain data, turned into an XLSForm file and
imported through ``pyxform`` exactly as a department's upload would be (``minqing.demo.menus``).
``weights`` say how the made-up households answer (the share of each choice); the rates of the
answers that raise an issue are chosen so that 530,000 households raise about 8,800 issues, as
the seed's first quarter did (8,849 problems).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from minqing.menus.spec import FIXED_CHOICES, Applies, Choice, QType, QuestionSpec

THEMES = (
    "民生保障",
    "饮水用电",
    "健康医疗",
    "就业增收",
    "教育助学",
    "平安法治",
    "人居环境",
    "意见建议",
)

GREETING = (
    "您好！我是咱们这里的城乡居民组长，今天来家里坐坐，按区里“四季菜单·暖心走访”"
    "的安排，了解一下家里的情况和大家的想法，耽误您十来分钟。有什么困难和意见都可以跟我说，"
    "我会记下来，能当场解决的当场解决，解决不了的报上去，办好了再来告诉您。"
)


@dataclass(frozen=True)
class Rule:
    """An answer that raises an issue: category code, department code ("" : the village),
    colour, one issue a village (shared) or one a household."""

    on: tuple[str, ...]
    category: str
    department: str = ""
    colour: str = "blue"
    shared: bool = False


@dataclass(frozen=True)
class Q:
    department: str
    spec: QuestionSpec
    weights: dict[str, float] = field(default_factory=dict)  # choice → share; numbers: (lo, hi)
    rule: Rule | None = None


def _yn(name: str, label: str, en: str, theme: str, **kw) -> QuestionSpec:
    return QuestionSpec(
        name,
        QType.YES_NO,
        label,
        en,
        theme=theme,
        required=True,
        choices=list(FIXED_CHOICES[QType.YES_NO]),
        **kw,
    )


def _gfb(name: str, label: str, en: str, theme: str, **kw) -> QuestionSpec:
    return QuestionSpec(
        name,
        QType.GOOD_FAIR_BAD,
        label,
        en,
        theme=theme,
        required=True,
        choices=list(FIXED_CHOICES[QType.GOOD_FAIR_BAD]),
        **kw,
    )


def _one(name: str, label: str, en: str, theme: str, choices: list[tuple[str, str, str]], **kw):
    return QuestionSpec(
        name,
        QType.SELECT_ONE,
        label,
        en,
        theme=theme,
        required=kw.pop("required", True),
        choices=[Choice(*c) for c in choices],
        **kw,
    )


def _many(name: str, label: str, en: str, theme: str, choices: list[tuple[str, str, str]], **kw):
    return QuestionSpec(
        name,
        QType.SELECT_MULTIPLE,
        label,
        en,
        theme=theme,
        required=kw.pop("required", False),
        choices=[Choice(*c) for c in choices],
        **kw,
    )


def _int(name: str, label: str, en: str, theme: str, lo: int, hi: int, **kw) -> QuestionSpec:
    return QuestionSpec(
        name,
        QType.INTEGER,
        label,
        en,
        theme=theme,
        required=kw.pop("required", True),
        constraint=f". >= {lo} and . <= {hi}",
        constraint_message_zh=f"请填{lo}到{hi}之间的整数",
        constraint_message_en=f"{lo} to {hi}",
        **kw,
    )


T1, T2, T3, T4, T5, T6, T7, T8 = THEMES
R, U = Applies.RURAL, Applies.URBAN
#: The rates of the answers that raise an issue (of the households asked).
HARDSHIP, MEDICAL, JOB, DISPUTE, HOUSE = 0.0055, 0.002, 0.003, 0.0015, 0.0035

QUESTIONS: tuple[Q, ...] = (
    # 民生保障 — civil affairs, human resources and social security
    Q(
        "civil",
        _yn(
            "hardship",
            "家里生活上有没有困难（看病、上学、住房、吃穿）？",
            "Any hardship at home?",
            T1,
            hint_zh="有困难选“是”，记下具体情况",
        ),
        {"yes": HARDSHIP, "no": 1 - HARDSHIP},
        Rule(("yes",), "assistance", "civil", "yellow"),
    ),
    Q(
        "civil",
        _yn("elderly_alone", "家中是否有独居或空巢老人？", "An elderly person living alone?", T1),
        {"yes": 0.12, "no": 0.88},
    ),
    Q(
        "civil",
        _many(
            "elderly_care",
            "老人需要哪些照料？",
            "What care does the elderly person need?",
            T1,
            [
                ("meals", "助餐送餐", "Meals"),
                ("bath", "助浴保洁", "Bathing and cleaning"),
                ("doctor", "陪同就医", "Going to the doctor"),
                ("day", "日间照料", "Day care"),
            ],
            relevant="${elderly_alone} = 'yes'",
        ),
        {"meals": 0.3, "bath": 0.15, "doctor": 0.35, "day": 0.1},
    ),
    Q(
        "civil",
        _yn(
            "allowance_known",
            "是否了解低保、特困救助政策？",
            "Do you know the allowance policy?",
            T1,
        ),
        {"yes": 0.8, "no": 0.2},
    ),
    Q(
        "social",
        _yn(
            "pension",
            "家中60岁以上老人是否都领到了养老金？",
            "Do the over-60s get their pension?",
            T1,
        ),
        {"yes": 0.96, "no": 0.04},
    ),
    Q(
        "social",
        _yn(
            "insured",
            "全家是否都参加了城乡居民医保？",
            "Is the whole family medically insured?",
            T1,
        ),
        {"yes": 0.95, "no": 0.05},
    ),
    # 饮水用电 — water resources, the power company
    Q(
        "water",
        _yn(
            "water_ok",
            "家里饮水是否正常？",
            "Is the drinking water all right?",
            T2,
            visitor_note="停水、水浑、水压低都算不正常",
        ),
        {"yes": 0.992, "no": 0.008},
        Rule(("no",), "drinking_water", "water", "yellow", shared=True),
    ),
    Q(
        "water",
        _one(
            "water_source",
            "家里吃的是什么水？",
            "Where does the drinking water come from?",
            T2,
            [
                ("tap", "A. 自来水", "Tap water"),
                ("well", "B. 井水", "A well"),
                ("bottled", "C. 桶装水", "Bottled water"),
                ("other", "D. 其他", "Other"),
            ],
        ),
        {"tap": 0.82, "well": 0.13, "bottled": 0.04, "other": 0.01},
    ),
    Q(
        "water",
        _int(
            "well_depth",
            "水井深度（米）",
            "Depth of the well (m)",
            T2,
            1,
            300,
            relevant="${water_source} = 'well'",
            applies=R,
            required=False,
        ),
        {"lo": 6, "hi": 60},
    ),
    Q(
        "power",
        _yn("power_ok", "家里用电是否正常？", "Is the electricity all right?", T2),
        {"yes": 0.995, "no": 0.005},
        Rule(("no",), "power", "power", "yellow", shared=True),
    ),
    Q(
        "power",
        _yn(
            "irrigation_power",
            "田里浇地用电有没有困难？",
            "Any trouble with power for irrigation?",
            T2,
            applies=R,
            hint_zh="线路、变压器、电价等",
        ),
        {"yes": 0.006, "no": 0.994},
        Rule(("yes",), "irrigation", "power", "yellow", shared=True),
    ),
    # 健康医疗 — health commission
    Q(
        "health",
        _gfb("health_state", "家人身体状况怎么样？", "How is the family's health?", T3),
        {"good": 0.7, "fair": 0.25, "bad": 0.05},
    ),
    Q(
        "health",
        _yn("chronic", "家中是否有慢性病患者？", "Anyone with a chronic illness?", T3),
        {"yes": 0.22, "no": 0.78},
    ),
    Q(
        "health",
        _yn(
            "family_doctor",
            "是否签约了家庭医生？",
            "Signed up with a family doctor?",
            T3,
            relevant="${chronic} = 'yes'",
        ),
        {"yes": 0.85, "no": 0.15},
    ),
    Q(
        "health",
        _yn("insured_health", "家人是否都参加了医保？", "Is everyone in the family insured?", T3),
        {"yes": 0.95, "no": 0.05},
    ),
    Q(
        "health",
        _yn("medical_hard", "看病就医有没有困难？", "Any difficulty seeing a doctor?", T3),
        {"yes": MEDICAL, "no": 1 - MEDICAL},
        Rule(("yes",), "health", "health", "yellow"),
    ),
    # 就业增收 — human resources and social security, agriculture and rural affairs
    Q(
        "social",
        _int("workers_away", "家中外出务工的有几人？", "How many work away from home?", T4, 0, 10),
        {"lo": 0, "hi": 3},
    ),
    Q(
        "social",
        _yn("job_need", "家里有没有人需要就业帮助？", "Does anyone need help finding work?", T4),
        {"yes": JOB, "no": 1 - JOB},
        Rule(("yes",), "employment"),
    ),
    Q(
        "social",
        _many(
            "job_help",
            "需要哪方面的帮助？",
            "What help?",
            T4,
            [
                ("posts", "岗位信息", "Job offers"),
                ("training", "技能培训", "Training"),
                ("loan", "创业贷款", "Business loans"),
            ],
            relevant="${job_need} = 'yes'",
            required=True,
        ),
        {"posts": 0.6, "training": 0.4, "loan": 0.2},
    ),
    Q(
        "agri",
        _many(
            "crops",
            "今年主要种了哪些作物？",
            "Main crops this year",
            T4,
            [
                ("wheat", "小麦", "Wheat"),
                ("maize", "玉米", "Maize"),
                ("soy", "大豆", "Soy"),
                ("herbs", "中药材", "Medicinal herbs"),
                ("veg", "蔬菜", "Vegetables"),
            ],
            applies=R,
        ),
        {"wheat": 0.7, "maize": 0.5, "soy": 0.2, "herbs": 0.15, "veg": 0.2},
    ),
    Q(
        "agri",
        _one(
            "farm_help",
            "农业生产最需要哪项服务？",
            "Which farming service is most needed?",
            T4,
            [
                ("advice", "A. 农技指导", "Advice"),
                ("machines", "B. 农机服务", "Machinery"),
                ("sales", "C. 销售渠道", "Sales"),
                ("none", "D. 暂不需要", "None"),
            ],
            applies=R,
        ),
        {"advice": 0.2, "machines": 0.15, "sales": 0.25, "none": 0.4},
    ),
    Q(
        "agri",
        _one(
            "income",
            "家庭收入和去年比怎么样？",
            "Household income compared with last year",
            T4,
            [("up", "A. 增加", "Up"), ("same", "B. 持平", "The same"), ("down", "C. 减少", "Down")],
        ),
        {"up": 0.35, "same": 0.5, "down": 0.15},
    ),
    # 教育助学 — education
    Q(
        "education",
        _int("students", "家中在读学生有几人？", "How many children at school?", T5, 0, 10),
        {"lo": 0, "hi": 2},
    ),
    Q(
        "education",
        _yn(
            "school_ok",
            "孩子上学是否方便？",
            "Is school easy to get to?",
            T5,
            relevant="${students} > 0",
        ),
        {"yes": 0.93, "no": 0.07},
    ),
    Q(
        "education",
        _yn("left_behind", "家中是否有留守儿童？", "A child left behind at home?", T5),
        {"yes": 0.04, "no": 0.96},
    ),
    Q(
        "education",
        _yn(
            "aid_known",
            "是否了解助学政策？",
            "Do you know the school-aid policy?",
            T5,
            relevant="${students} > 0",
        ),
        {"yes": 0.75, "no": 0.25},
    ),
    # 平安法治 — police, justice, market regulation
    Q(
        "police",
        _gfb("safety", "您觉得住的地方治安怎么样？", "How safe is it where you live?", T6),
        {"good": 0.8, "fair": 0.18, "bad": 0.02},
    ),
    Q(
        "police",
        _yn(
            "fraud_known", "是否知道怎么防范电信诈骗？", "Do you know how to avoid phone fraud?", T6
        ),
        {"yes": 0.85, "no": 0.15},
    ),
    Q(
        "justice",
        _yn(
            "dispute",
            "家里或邻里之间有没有矛盾纠纷？",
            "Any dispute in the family or with neighbours?",
            T6,
        ),
        {"yes": DISPUTE, "no": 1 - DISPUTE},
        Rule(("yes",), "dispute"),
    ),
    Q(
        "justice",
        _yn("legal_need", "是否需要法律咨询或法律援助？", "Is legal advice needed?", T6),
        {"yes": 0.03, "no": 0.97},
    ),
    Q(
        "market",
        _gfb(
            "food_safe",
            "附近买菜买药放心吗？",
            "Do you trust the food and medicine sold nearby?",
            T6,
        ),
        {"good": 0.75, "fair": 0.22, "bad": 0.03},
    ),
    # 人居环境 — housing, urban management, ecology, transport
    Q(
        "housing",
        _yn("house_safe", "住房是否安全（墙体、屋顶有无裂缝漏雨）？", "Is the house safe?", T7),
        {"yes": 1 - HOUSE, "no": HOUSE},
        Rule(("no",), "housing", "housing", "yellow"),
    ),
    Q(
        "housing",
        _one(
            "house_type",
            "住房是什么结构？",
            "What is the house built of?",
            T7,
            [
                ("brick", "A. 砖混", "Brick and concrete"),
                ("wood", "B. 砖木", "Brick and wood"),
                ("earth", "C. 土坯", "Earth"),
                ("flat", "D. 楼房", "Flats"),
            ],
            applies=R,
        ),
        {"brick": 0.6, "wood": 0.2, "earth": 0.02, "flat": 0.18},
    ),
    Q(
        "urban",
        _gfb(
            "property",
            "小区物业服务怎么样？",
            "How is the estate's property management?",
            T7,
            applies=U,
        ),
        {"good": 0.5, "fair": 0.4, "bad": 0.1},
    ),
    Q(
        "urban",
        _yn("parking", "小区停车方便吗？", "Is parking easy?", T7, applies=U),
        {"yes": 0.6, "no": 0.4},
    ),
    Q(
        "ecology",
        _gfb(
            "sanitation", "村（小区）里的环境卫生怎么样？", "How clean is the village (estate)?", T7
        ),
        {"good": 0.65, "fair": 0.3, "bad": 0.05},
    ),
    Q(
        "ecology",
        _yn("toilet", "家里是否用上了卫生厕所？", "Is there a sanitary toilet?", T7, applies=R),
        {"yes": 0.9, "no": 0.1},
    ),
    Q(
        "transport",
        _gfb("road", "出门的道路好走吗？", "Are the roads all right?", T7),
        {"good": 0.75, "fair": 0.23, "bad": 0.02},
    ),
    # 意见建议 — civil affairs collects them for the county
    Q(
        "civil",
        _one(
            "satisfaction",
            "对村（社区）干部的工作满意吗？",
            "Satisfied with the village cadres' work?",
            T8,
            [
                ("yes", "A. 满意", "Satisfied"),
                ("mostly", "B. 基本满意", "Mostly"),
                ("no", "C. 不满意", "Not satisfied"),
            ],
        ),
        {"yes": 0.78, "mostly": 0.19, "no": 0.03},
    ),
    Q(
        "civil",
        QuestionSpec(
            "suggestion",
            QType.TEXT,
            "还有什么问题或建议？",
            "Anything else?",
            theme=T8,
            visitor_note="群众的原话记下来，不要改写",
        ),
    ),
    Q(
        "civil",
        QuestionSpec(
            "thanks",
            QType.NOTE,
            "感谢您的支持！有事随时找我，电话就在联系卡上。",
            "Thank you! Call me any time: the number is on the contact card.",
            theme=T8,
        ),
    ),
)

#: Suggestions some households give (the rest leave the text empty).
SUGGESTIONS = (
    "希望村里多组织几次义诊",
    "路灯晚上不亮，希望修一下",
    "垃圾清运能不能再勤一点",
    "希望多办几期技能培训",
    "村口路面有坑，下雨积水",
    "希望增加公交班次",
)

#: The second version's one change: income in four steps instead of three (the agriculture
#: bureau wanted to tell a little from a lot).
INCOME_V2 = [
    Choice("up_much", "A. 增加较多", "Up a lot"),
    Choice("up", "B. 略有增加", "Up a little"),
    Choice("same", "C. 持平", "The same"),
    Choice("down", "D. 减少", "Down"),
]
INCOME_V2_WEIGHTS = {"up_much": 0.1, "up": 0.25, "same": 0.5, "down": 0.15}


def department_codes() -> list[str]:
    """The departments that send a checklist, in the order they first appear."""
    return list(dict.fromkeys(q.department for q in QUESTIONS))
