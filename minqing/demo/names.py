"""Word lists for the demo county: people's names, place names, roads and archive phrases.

Nothing here is real personal data. Surname weights follow the published frequency of Chinese
surnames (per cent of the population, 2020 census order); given names are drawn from characters
typical of the generation a person was born in.
"""

from __future__ import annotations

import random

# (surname, weight) — weights ≈ share of the population in per cent.
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.1),
    ("李", 7.0),
    ("张", 6.8),
    ("刘", 5.4),
    ("陈", 4.5),
    ("杨", 3.1),
    ("赵", 2.3),
    ("黄", 2.2),
    ("周", 1.9),
    ("吴", 2.0),
    ("徐", 1.7),
    ("孙", 1.5),
    ("胡", 1.3),
    ("朱", 1.3),
    ("高", 1.3),
    ("林", 1.2),
    ("何", 1.2),
    ("郭", 1.2),
    ("马", 1.1),
    ("罗", 0.9),
    ("梁", 0.9),
    ("宋", 0.9),
    ("郑", 0.8),
    ("谢", 0.8),
    ("韩", 0.8),
    ("唐", 0.8),
    ("冯", 0.7),
    ("于", 0.6),
    ("董", 0.6),
    ("肖", 0.6),
    ("程", 0.6),
    ("曹", 0.7),
    ("袁", 0.5),
    ("邓", 0.5),
    ("许", 0.5),
    ("傅", 0.4),
    ("沈", 0.4),
    ("曾", 0.4),
    ("彭", 0.5),
    ("吕", 0.5),
    ("苏", 0.5),
    ("卢", 0.5),
    ("蒋", 0.5),
    ("蔡", 0.5),
    ("贾", 0.4),
    ("丁", 0.4),
    ("魏", 0.4),
    ("薛", 0.4),
    ("叶", 0.4),
    ("阎", 0.4),
    ("余", 0.4),
    ("潘", 0.4),
    ("杜", 0.4),
    ("戴", 0.3),
    ("夏", 0.3),
    ("钟", 0.3),
    ("汪", 0.3),
    ("田", 0.3),
    ("任", 0.3),
    ("姜", 0.3),
    ("范", 0.3),
    ("方", 0.3),
    ("石", 0.3),
    ("姚", 0.3),
    ("谭", 0.3),
    ("廖", 0.3),
    ("邹", 0.3),
    ("熊", 0.3),
    ("金", 0.3),
    ("陆", 0.3),
    ("郝", 0.3),
    ("孔", 0.2),
    ("白", 0.2),
    ("崔", 0.2),
    ("康", 0.2),
    ("毛", 0.2),
    ("邱", 0.2),
    ("秦", 0.2),
    ("江", 0.2),
    ("史", 0.2),
    ("顾", 0.2),
    ("侯", 0.2),
    ("邵", 0.2),
    ("孟", 0.2),
    ("龙", 0.2),
    ("万", 0.2),
    ("段", 0.2),
    ("雷", 0.2),
    ("钱", 0.2),
    ("汤", 0.2),
    ("尹", 0.2),
    ("黎", 0.1),
    ("易", 0.1),
    ("常", 0.2),
    ("武", 0.2),
    ("乔", 0.2),
    ("贺", 0.2),
    ("郜", 0.1),
    ("葛", 0.1),
    ("耿", 0.1),
    ("鲍", 0.1),
    ("闫", 0.2),
    ("路", 0.1),
    ("岳", 0.1),
    ("牛", 0.1),
)
SURNAME_LIST: tuple[str, ...] = tuple(s for s, _w in SURNAMES)
SURNAME_CUM: tuple[float, ...] = tuple(
    sum(w for _s, w in SURNAMES[: i + 1]) for i in range(len(SURNAMES))
)

# Given-name characters by sex and generation (born before 1965, 1965–1984, 1985 on).
MALE_OLD = "建国德文志明华军永玉长春振保卫红金广树宝福贵义忠发海庆胜林山生成荣才顺兴平安全先洪"
MALE_MID = "伟强磊勇军杰涛斌超刚辉鹏波亮俊峰东晓明志春海林华斌健飞龙兵新宏剑"
MALE_YOUNG = "子浩宇轩博俊杰涛鹏晨阳磊帅鑫一泽睿凯思天家航辰逸梓毅昊然豪宏佳文嘉乐"
FEMALE_OLD = "秀桂玉凤兰英芳珍梅华霞荣翠淑素云琴香花莲菊金爱春巧彩"
FEMALE_MID = "丽娟敏静艳燕红霞玲芳萍洁婷慧琳娜雪莉梅晶丹倩颖"
FEMALE_YOUNG = "欣婷雪怡佳悦涵琪雨萱诗梦瑶静婧颖晓娜敏倩蕊妍可一梓子思若彤"

# Real-sounding 镇/街道 of a 亳州-style district (a demo: not the official list).
TOWN_NAMES = (
    "古井",
    "华佗",
    "十河",
    "十八里",
    "魏岗",
    "牛集",
    "颜集",
    "五马",
    "古城",
    "芦庙",
    "观堂",
    "沙土",
    "城父",
    "大杨",
    "立德",
    "龙扬",
    "双沟",
    "淝河",
    "谯东",
    "赵桥",
    "张店",
    "涡北",
)
STREET_NAMES = ("花戏楼", "薛阁", "汤陵", "火神庙", "魏武", "汤王", "芍花", "药都", "希夷", "谯陵")

# Village names: a surname or a place word, then a settlement word (袁庄, 高楼, 李集, 王寨 …).
VILLAGE_PREFIX = tuple("东西南北大小前后新老双三中上")
VILLAGE_SUFFIX = tuple("庄集楼寨营庙店桥湖园洼岗屯铺坊圩台寺阁堂")
COMMUNITY_WORDS = (
    "幸福",
    "和平",
    "光明",
    "文化",
    "建设",
    "新华",
    "东关",
    "北关",
    "南关",
    "西关",
    "花园",
    "阳光",
    "锦绣",
    "紫荆",
    "芍花",
    "药都",
    "魏武",
    "汤王",
    "涡北",
    "龙湾",
    "百草",
    "华佗",
    "希夷",
    "马元",
    "金桥",
    "银杏",
    "桂花",
    "丰收",
    "民主",
    "团结",
    "红旗",
    "振兴",
    "向阳",
    "永安",
    "长春",
    "富民",
    "康居",
    "新城",
    "曙光",
    "兴华",
    "东方",
    "育才",
    "凤凰",
    "牡丹",
    "芙蓉",
    "兰亭",
)
ESTATE_WORDS = ("家园", "花苑", "小区", "新村", "公寓", "华庭", "名都", "雅居", "佳苑", "嘉园")
ROADS = (
    "人民路",
    "建设路",
    "光明路",
    "文化路",
    "健康路",
    "和平路",
    "胜利路",
    "解放路",
    "魏武大道",
    "芍花路",
    "汤王大道",
    "药都路",
    "希夷大道",
    "杜仲路",
    "亳芜大道",
    "紫荆路",
    "合欢路",
    "牡丹路",
    "谯陵路",
    "涡河路",
    "中原路",
    "银杏路",
    "桑园路",
    "学府路",
    "工业路",
    "站前路",
    "幸福路",
)
AREA_NAMES = ("东片", "西片", "南片", "北片", "中片", "前片", "后片")

INCOME_RURAL = (
    ("务农", 24),
    ("务工", 30),
    ("务农兼务工", 24),
    ("养殖", 4),
    ("个体经营", 6),
    ("种植大户", 2),
    ("退休金", 3),
    ("低保及救助", 4),
    ("其他", 3),
)
INCOME_URBAN = (
    ("工资", 44),
    ("个体经营", 18),
    ("退休金", 18),
    ("灵活就业", 14),
    ("低保及救助", 3),
    ("其他", 3),
)
CHRONIC = ("高血压", "糖尿病", "冠心病", "慢性支气管炎", "关节炎", "腰椎间盘突出", "慢性胃炎")
SERIOUS = ("脑梗后遗症", "肺癌术后", "尿毒症透析", "白血病", "乳腺癌术后", "心脏搭桥术后")
DISABILITY = (
    "肢体残疾二级",
    "肢体残疾三级",
    "视力残疾二级",
    "听力残疾三级",
    "智力残疾二级",
    "精神残疾二级",
    "肢体残疾四级",
)
WORK_PLACES = (
    "合肥",
    "上海",
    "苏州",
    "杭州",
    "宁波",
    "南京",
    "无锡",
    "北京",
    "深圳",
    "广州",
    "郑州",
)
JOBS_AWAY = (
    "建筑工",
    "电子厂工人",
    "快递员",
    "外卖骑手",
    "厨师",
    "装修工",
    "保安",
    "服装厂工人",
    "货车司机",
    "保洁",
)
JOBS_HOME = ("务农", "个体", "教师", "村医", "司机", "个体商户", "公司职员", "公务员", "工人")
COLLECTIVE = (
    "光伏电站",
    "土地流转",
    "中药材种植基地",
    "标准化厂房出租",
    "村集体农机合作社",
    "电商服务站",
    "芍药种植合作社",
    "养殖小区",
    "门面房出租",
    "劳务公司",
)
PLAN_ITEMS = (
    "完成四季菜单暖心走访全覆盖",
    "新建村级文化广场一处",
    "推进农村人居环境整治",
    "实施高标准农田建设",
    "发展中药材特色种植",
    "开展矛盾纠纷排查化解",
    "提升村集体经济收入",
    "完善网格化服务管理",
    "修缮村内道路",
    "建设村级养老服务站",
    "开展移风易俗宣传",
    "推进老旧小区改造",
    "加装电梯试点",
    "完善社区便民服务中心",
)

DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 25 → 二十五, 103 → 一百零三 (up to 999)."""
    if n < 10:
        return DIGITS[n]
    if n < 20:
        return "十" + (DIGITS[n % 10] if n % 10 else "")
    if n < 100:
        return DIGITS[n // 10] + "十" + (DIGITS[n % 10] if n % 10 else "")
    rest = n % 100
    head = DIGITS[n // 100] + "百"
    if rest == 0:
        return head
    if rest < 10:
        return head + "零" + DIGITS[rest]
    if rest < 20:
        return head + "一" + chinese_number(rest)
    return head + chinese_number(rest)


def surname(rng: random.Random) -> str:
    return rng.choices(SURNAME_LIST, cum_weights=SURNAME_CUM)[0]


def given_name(rng: random.Random, sex: str, birth_year: int) -> str:
    """A one- or two-character given name fitting the person's sex and generation."""
    if birth_year < 1965:
        chars = MALE_OLD if sex == "M" else FEMALE_OLD
    elif birth_year < 1985:
        chars = MALE_MID if sex == "M" else FEMALE_MID
    else:
        chars = MALE_YOUNG if sex == "M" else FEMALE_YOUNG
    first = chars[int(rng.random() * len(chars))]
    if rng.random() < 0.14:
        return first
    second = chars[int(rng.random() * len(chars))]
    return first + second


def phone(rng: random.Random) -> str:
    """A mobile number of a real carrier prefix (13x–19x)."""
    prefix = rng.choice(("13", "13", "15", "15", "18", "18", "17", "19", "16", "14"))
    return f"{prefix}{rng.randrange(10**9):09d}"


def village_name(rng: random.Random, taken: set[str]) -> str:
    """袁庄村, 高楼村, 大李集村 … unique within ``taken`` (which it extends)."""
    for attempt in range(200):
        first = surname(rng) if rng.random() < 0.75 else rng.choice(VILLAGE_PREFIX)
        middle = surname(rng) if attempt > 20 or rng.random() < 0.15 else ""
        name = f"{first}{middle}{rng.choice(VILLAGE_SUFFIX)}村"
        if name not in taken:
            taken.add(name)
            return name
    raise RuntimeError("ran out of village names")


def community_name(rng: random.Random, taken: set[str]) -> str:
    """幸福社区, 马元社区, 东关社区 … unique within ``taken``."""
    for attempt in range(400):
        word = rng.choice(COMMUNITY_WORDS)
        if attempt > 40:
            word = surname(rng) + rng.choice("园元庄湖桥")
        name = f"{word}社区"
        if name not in taken:
            taken.add(name)
            return name
    raise RuntimeError("ran out of community names")


def estate_name(rng: random.Random, taken: set[str]) -> str:
    for _attempt in range(200):
        name = rng.choice(COMMUNITY_WORDS) + rng.choice(ESTATE_WORDS)
        if name not in taken:
            taken.add(name)
            return name
    raise RuntimeError("ran out of estate names")
