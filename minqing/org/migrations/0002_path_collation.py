"""Node paths compare byte-wise on PostgreSQL so the subtree range query is exact.

Under a linguistic collation (en_US.UTF-8) "/" is ignored at the first level and "/1/7/5/" would
sort after "/1/70"; the C collation keeps the order of ``minqing.org.models.subtree_q``.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute('ALTER TABLE org_node ALTER COLUMN path TYPE varchar(255) COLLATE "C"')


class Migration(migrations.Migration):
    dependencies = [("org", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
