"""三权分立 in the database (docs/SECURITY-BAR.md §8): an account holding the auditor, security
admin or system admin role holds no other role, whatever writes the row (``role_assign`` checks
it too).

On PostgreSQL the trigger locks the user's row first, so two concurrent grants to one account
are checked one after the other.
"""

from django.db import migrations

SEPARATED = "('auditor', 'security_admin', 'system_admin')"
MESSAGE = "separated roles: auditor, security admin and system admin exclude every other role"


def _conflict(new: str, exclude_self: str = "") -> str:
    others = f"SELECT 1 FROM accounts_roleassignment WHERE user_id = {new}.user_id{exclude_self}"
    return (
        f"({new}.role IN {SEPARATED} AND EXISTS ({others} AND role <> {new}.role))"
        f" OR ({new}.role NOT IN {SEPARATED} AND EXISTS ({others} AND role IN {SEPARATED}))"
    )


SQLITE = [
    f"""CREATE TRIGGER role_assignment_separated_insert BEFORE INSERT ON accounts_roleassignment
        WHEN {_conflict("NEW")}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER role_assignment_separated_update
        BEFORE UPDATE OF user_id, role ON accounts_roleassignment
        WHEN {_conflict("NEW", " AND id <> OLD.id")}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS role_assignment_separated_insert",
    "DROP TRIGGER IF EXISTS role_assignment_separated_update",
]
POSTGRES = [
    f"""CREATE OR REPLACE FUNCTION role_assignment_separated() RETURNS trigger AS $$
        BEGIN
          PERFORM 1 FROM accounts_user WHERE id = NEW.user_id FOR UPDATE;
          IF {_conflict("NEW", " AND id IS DISTINCT FROM NEW.id")} THEN
            RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'check_violation';
          END IF;
          RETURN NEW;
        END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER role_assignment_separated
       BEFORE INSERT OR UPDATE OF user_id, role ON accounts_roleassignment
       FOR EACH ROW EXECUTE FUNCTION role_assignment_separated()""",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS role_assignment_separated ON accounts_roleassignment",
    "DROP FUNCTION IF EXISTS role_assignment_separated()",
]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in {"sqlite": SQLITE, "postgresql": POSTGRES}.get(vendor, []):
        schema_editor.execute(sql)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in {"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP}.get(vendor, []):
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
