"""Node names compare byte-wise on PostgreSQL for indexed prefix search (see households 0005)."""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute('ALTER TABLE org_node ALTER COLUMN name TYPE varchar(100) COLLATE "C"')


class Migration(migrations.Migration):
    dependencies = [("org", "0002_path_collation")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
