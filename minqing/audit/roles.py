"""The audit tables on PostgreSQL: nobody but their owner may change or remove a row.

A deployment runs ``minqing migrate`` as the owner role and the application as a runtime role
(``deploy/postgresql-roles.sql``). The runtime role gets SELECT, INSERT, UPDATE and DELETE on
the application's tables by default privileges; after every ``migrate`` (``post_migrate``)
:func:`revoke_audit_changes` takes UPDATE, DELETE, TRUNCATE, TRIGGER and REFERENCES on the audit
tables back from every role but the owner, so the running application can only INSERT and
SELECT audit rows — and, owning nothing, cannot drop the append-only triggers either.
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

AUDIT_TABLES = ("audit_auditevent", "audit_auditseal")
REVOKED = "UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES"


def revoke_audit_changes(using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> list[str]:
    """Revoke every change right on the audit tables from every non-owner; returns the
    ``table: role`` pairs revoked (nothing on other databases than PostgreSQL)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT c.relname,
                   CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END
            FROM pg_class c
            CROSS JOIN LATERAL aclexplode(c.relacl) a
            LEFT JOIN pg_roles r ON r.oid = a.grantee
            WHERE c.oid = ANY (ARRAY[to_regclass(%s), to_regclass(%s)])
              AND a.grantee <> c.relowner
              AND a.privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE', 'TRIGGER', 'REFERENCES')
            ORDER BY 1, 2
            """,
            list(AUDIT_TABLES),
        )
        pairs = cursor.fetchall()
        for table, grantee in pairs:
            cursor.execute(f"REVOKE {REVOKED} ON {connection.ops.quote_name(table)} FROM {grantee}")
    return [f"{table}: {grantee}" for table, grantee in pairs]
