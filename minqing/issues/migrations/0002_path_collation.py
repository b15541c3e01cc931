"""``node_path`` compares byte-wise on PostgreSQL so a subtree is one index range (as org 0002);
the similar-issue index terms likewise, so equality uses the plain b-tree."""

from django.db import migrations

COLUMNS = [("issues_issue", "node_path", 255), ("issues_issueterm", "term", 16)]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column, length in COLUMNS:
        schema_editor.execute(
            f'ALTER TABLE {table} ALTER COLUMN {column} TYPE varchar({length}) COLLATE "C"')


class Migration(migrations.Migration):
    dependencies = [("issues", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
