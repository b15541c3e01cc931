# A Python-side change only (bulk inserts as VALUES rows): the column stays as it is. State
# only, so SQLite does not rebuild the table (which would drop the append-only triggers).

import minqing.lib.fields
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_append_only"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditevent",
                    name="detail",
                    field=minqing.lib.fields.RowsJSONField(
                        blank=True, default=dict, verbose_name="detail"
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
