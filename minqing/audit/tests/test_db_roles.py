"""PostgreSQL: the runtime role of deploy/postgresql-roles.sql may only INSERT and SELECT audit
rows — the database itself refuses UPDATE, DELETE, TRUNCATE and dropping the triggers — while
the application's own writes (and the worker's sealing) work."""

import re
import secrets
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from minqing.audit.models import AuditEvent
from minqing.audit.services import audit_record, seal_pending, verify_chain
from minqing.households.services import household_update

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="database roles are PostgreSQL's"
)

SCRIPT = Path(__file__).resolve().parents[3] / "deploy" / "postgresql-roles.sql"


def part_two(app: str, owner: str, database: str) -> list[str]:
    """The in-database statements of the deployment script, for roles and a database of the
    test's own."""
    text = SCRIPT.read_text()
    body = text[text.index("-- begin part 2") : text.index("-- end part 2")]
    body = "\n".join(line for line in body.splitlines() if not line.startswith("--"))
    body = body.replace("minqing_owner", owner).replace("minqing_app", app)
    body = re.sub(r"DATABASE minqing\b", f'DATABASE "{database}"', body)
    return [s.strip() for s in body.split(";") if s.strip()]


@pytest.fixture
def runtime_role(db):
    suffix = secrets.token_hex(4)
    app, owner = f"h_audit_app_{suffix}", f"h_audit_owner_{suffix}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {owner}")
        cursor.execute(f"CREATE ROLE {app}")
        for statement in part_two(app, owner, connection.settings_dict["NAME"]):
            cursor.execute(statement)
    call_command("migrate", verbosity=0)  # post_migrate takes the audit changes back
    return app


def as_role(role):
    class Role:
        def __enter__(self):
            with connection.cursor() as cursor:
                cursor.execute(f"SET ROLE {role}")

        def __exit__(self, *exc):
            with connection.cursor() as cursor:
                cursor.execute("RESET ROLE")

    return Role()


def test_the_runtime_role_writes_the_app_and_appends_audit_rows(runtime_role, county, owner):
    household = county.household_a1
    with as_role(runtime_role):
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone()[0] == runtime_role
        household_update(by=owner, household=household, data={"address": "新地址"}, base_version=1)
        audit_record(action="test", username="app")
        assert seal_pending()["sealed"] == AuditEvent.objects.count()
        assert verify_chain().ok
    household.refresh_from_db()
    assert (household.address, household.version) == ("新地址", 2)


@pytest.mark.parametrize("table", ["audit_auditevent", "audit_auditseal"])
@pytest.mark.parametrize(
    "statement, refusal",
    [
        ("UPDATE {table} SET key_id = 9", "permission denied"),
        ("DELETE FROM {table}", "permission denied"),
        ("TRUNCATE {table} CASCADE", "permission denied"),
        ("DROP TRIGGER {table}_no_change ON {table}", "must be owner"),
        ("ALTER TABLE {table} DISABLE TRIGGER ALL", "must be owner"),
    ],
)
def test_the_runtime_role_cannot_change_the_trail(runtime_role, county, table, statement, refusal):
    audit_record(action="test")
    seal_pending()
    count = AuditEvent.objects.count()
    with as_role(runtime_role):
        with pytest.raises(DatabaseError, match=refusal), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement.format(table=table))
    assert AuditEvent.objects.count() == count
    assert verify_chain().ok
