"""Is this database a demo, and wiping it for a rebuild.

The marker is the ``demo.build`` row the builder writes to the (append-only) audit trail: it
holds the build parameters and cannot be added by accident. A database without it is never
wiped unless the caller passes ``force``.

Wiping, because audit rows refuse UPDATE and DELETE by trigger:

- SQLite: the database file (and its -wal/-shm/-journal companions) is deleted; ``migrate``
  then creates a fresh one. The key ring and secret key in the data dir are kept.
- PostgreSQL: every table of an installed app plus ``django_migrations`` is dropped (CASCADE
  takes the audit triggers along), as is the trigger function, in one transaction; tables that
  belong to nothing Django knows stay untouched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError
from django.db import connection, transaction

DEMO_ACTION = "demo.build"


def demo_marker() -> dict[str, Any] | None:
    """The parameters of the demo county in this database, or None if it holds none."""
    from minqing.audit.models import AuditEvent

    if "audit_auditevent" not in connection.introspection.table_names():
        return None
    event = AuditEvent.objects.filter(action=DEMO_ACTION).order_by("-id").first()
    return event.detail if event is not None else None


def database_state() -> str:
    """ "missing" (not migrated), "empty", "demo" (built by the demo builder) or "other"."""
    tables = set(connection.introspection.table_names())
    if not {"org_node", "audit_auditevent", "accounts_user"} <= tables:
        return "other" if tables - {"django_migrations"} else "missing"
    from minqing.accounts.models import User
    from minqing.audit.models import AuditEvent
    from minqing.households.models import Household
    from minqing.org.models import Node

    if AuditEvent.objects.filter(action=DEMO_ACTION).exists():
        return "demo"
    if Node.objects.exists() or Household.objects.exists() or User.objects.exists():
        return "other"
    return "empty"


def describe() -> str:
    """Where the data lives, for messages: a file path or host/database."""
    cfg = connection.settings_dict
    if connection.vendor == "sqlite":
        return str(cfg["NAME"])
    return f"{connection.vendor} {cfg.get('HOST') or 'localhost'}/{cfg['NAME']}"


def wipe_database(*, force: bool = False) -> None:
    """Remove every Minqing table so ``migrate`` starts from nothing (see the module doc)."""
    state = database_state()
    if state == "other" and not force:
        raise CommandError(
            f"{describe()} holds data that was not built by the demo; refusing to wipe it. "
            "Point MINQING_DATA_DIR/DATABASE_URL at a fresh database, or add --force."
        )
    if connection.in_atomic_block:
        raise CommandError("cannot wipe the database inside a transaction")
    if connection.vendor == "sqlite":
        _wipe_sqlite()
    elif connection.vendor == "postgresql":
        _wipe_postgresql()
    else:
        raise CommandError(f"rebuilding a {connection.vendor} database is not supported")
    # The audit anchors name rows of the wiped trail: the new one starts a new file.
    from minqing.audit.chain import anchor_path

    anchor_path().unlink(missing_ok=True)


def _wipe_sqlite() -> None:
    name = str(connection.settings_dict["NAME"])
    if name == ":memory:" or "mode=memory" in name:
        raise CommandError("an in-memory SQLite database cannot be wiped by deleting it")
    connection.close()
    path = Path(name)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _wipe_postgresql() -> None:
    existing = set(connection.introspection.table_names())
    tables = [t for t in connection.introspection.django_table_names(only_existing=True)]
    if "django_migrations" in existing:
        tables.append("django_migrations")
    with transaction.atomic(), connection.cursor() as cur:
        for table in tables:
            cur.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(table)} CASCADE")
        cur.execute("DROP FUNCTION IF EXISTS audit_event_append_only() CASCADE")
