"""The key-household tags of docs/DOMAIN.md §1; counties may add their own."""

from django.db import migrations

TAGS = [
    ("old_party_member", "老党员"), ("retired_cadre", "老干部"), ("poverty_exited", "脱贫户"),
    ("monitored", "监测户"), ("dispute", "邻里纠纷户"), ("able_earner", "致富能手"),
    ("dibao", "低保户"), ("wubao", "五保户"), ("disabled", "残疾人户"),
    ("elderly_alone", "独居老人"), ("empty_nest", "空巢老人"), ("left_behind_child", "留守儿童"),
    ("migrant_worker", "务工户"), ("military", "军属"),
]


def forwards(apps, schema_editor):
    tag = apps.get_model("households", "HouseholdTag")
    for order, (code, name) in enumerate(TAGS):
        tag.objects.get_or_create(code=code, defaults={"name": name, "sort_key": order})


class Migration(migrations.Migration):
    dependencies = [("households", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
