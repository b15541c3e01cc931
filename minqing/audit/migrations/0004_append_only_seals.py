"""The old hash columns and the global head row go; the MAC is unique; the database refuses
UPDATE, DELETE and TRUNCATE on both audit tables again (the triggers of 0002, for seals too)."""

from django.db import migrations, models

TABLES = ("audit_auditevent", "audit_auditseal")


def sqlite_triggers(table):
    return [
        f"""CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
            BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END""",
        f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
            BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END""",
    ]


def postgres_triggers(table):
    return [
        f"""CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()""",
        f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()""",
    ]


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        statements = [sql for table in TABLES for sql in sqlite_triggers(table)]
    elif vendor == "postgresql":
        statements = [
            """CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
               BEGIN RAISE EXCEPTION 'audit trail is append-only'; END; $$ LANGUAGE plpgsql"""
        ] + [sql for table in TABLES for sql in postgres_triggers(table)]
    else:
        statements = []
    for sql in statements:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_keyed_chain")]

    operations = [
        migrations.RemoveField(model_name="auditevent", name="prev_hash"),
        migrations.RemoveField(model_name="auditevent", name="hash"),
        migrations.DeleteModel(name="AuditHead"),
        migrations.AlterField(
            model_name="auditevent",
            name="mac",
            field=models.CharField(max_length=64, unique=True),
        ),
        migrations.RunPython(create_triggers, migrations.RunPython.noop),
    ]
