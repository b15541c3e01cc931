# The answers' bulk inserts as VALUES rows (a Python-side change: state only, no table
# rebuild), and no separate index on the visitor: response_visitor_hash starts with it.

import django.db.models.deletion
import minqing.lib.fields
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("menus", "0002_question_issue_shared"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="response",
                    name="answers",
                    field=minqing.lib.fields.RowsJSONField(default=dict),
                ),
            ],
            database_operations=[],
        ),
        # The index's name is Django's own for this column on both databases; dropping it
        # alone spares SQLite a copy of the whole table.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="response",
                    name="visitor",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="menu_responses",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "menus_response_visitor_id_124a3578"',
                    reverse_sql='CREATE INDEX "menus_response_visitor_id_124a3578" '
                    'ON "menus_response" ("visitor_id")',
                ),
            ],
        ),
    ]
