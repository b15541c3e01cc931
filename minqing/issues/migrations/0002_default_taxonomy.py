"""The default taxonomy for rural and urban life, each routed to a county department by code,
and the default deadlines (general: 5 working days ≈ "1 week"; complex: 1 month). Both are
editable afterwards; this runs once."""

from django.db import migrations

CATEGORIES = [
    # code, 名称, English, applies to, department code
    ("road", "道路交通", "Roads and transport", "both", "transport"),
    ("irrigation", "农田水利", "Irrigation and farm water", "rural", "water"),
    ("drinking_water", "饮水安全", "Drinking water", "both", "water"),
    ("power", "供电用电", "Electricity supply", "both", "power"),
    ("housing", "住房安全", "Housing safety", "both", "housing"),
    ("land", "土地宅基地", "Land and homesteads", "rural", "natres"),
    ("social_security", "社保医保", "Social and medical insurance", "both", "social"),
    ("employment", "就业创业", "Jobs and business", "both", "social"),
    ("assistance", "低保救助", "Subsistence allowance and relief", "both", "civil"),
    ("elderly", "养老服务", "Care for the elderly", "both", "civil"),
    ("health", "医疗卫生", "Health care", "both", "health"),
    ("education", "教育入学", "Schooling", "both", "education"),
    ("environment", "环境卫生", "Sanitation and environment", "both", "ecology"),
    ("public_order", "治安安全", "Public order and safety", "both", "police"),
    ("dispute", "邻里纠纷", "Neighbour disputes", "both", "justice"),
    ("agriculture", "农业生产", "Farming", "rural", "agri"),
    ("property", "物业管理", "Property management", "urban", "housing"),
    ("city", "市容城管", "City appearance", "urban", "urban"),
    ("market", "市场消费", "Markets and consumers", "both", "market"),
    ("policy", "政策咨询", "Policy questions", "both", ""),
    ("other", "其他", "Other", "both", ""),
]

RULES = [
    ("green", "general", 0, "workdays"),
    ("green", "complex", 0, "workdays"),
    ("blue", "general", 5, "workdays"),
    ("blue", "complex", 1, "months"),
    ("yellow", "general", 5, "workdays"),
    ("yellow", "complex", 1, "months"),
    ("orange", "general", 5, "workdays"),
    ("orange", "complex", 1, "months"),
]


def forwards(apps, schema_editor):
    Category = apps.get_model("issues", "Category")
    DeadlineRule = apps.get_model("issues", "DeadlineRule")
    for i, (code, name, name_en, kind, dept) in enumerate(CATEGORIES):
        Category.objects.get_or_create(
            code=code,
            defaults={"name": name, "name_en": name_en, "kind": kind, "department_code": dept,
                      "sort_key": i * 10},
        )
    for colour, complexity, amount, unit in RULES:
        DeadlineRule.objects.get_or_create(
            colour=colour, complexity=complexity, defaults={"amount": amount, "unit": unit}
        )


class Migration(migrations.Migration):
    dependencies = [("issues", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
