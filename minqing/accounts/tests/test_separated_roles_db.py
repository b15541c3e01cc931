"""三权分立 in the database (docs/SECURITY-BAR.md §8): the trigger refuses what ``role_assign``
refuses, even for a raw SQL INSERT or UPDATE that skips the service."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from minqing.accounts.models import Role, RoleAssignment
from minqing.conftest import make_user
from minqing.tests.dbstate import nothing_written


def _insert(user, role: str, node=None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_roleassignment (user_id, role, node_id, department_id,"
            " created_at) VALUES (%s, %s, %s, NULL, %s)",
            [user.pk, role, getattr(node, "pk", None), timezone.now()],
        )


@pytest.mark.parametrize(
    ("first", "second", "node_for"),
    [
        (Role.AUDITOR, Role.VILLAGE_CADRE, "second"),
        (Role.AUDITOR, Role.SECURITY_ADMIN, None),
        (Role.SECURITY_ADMIN, Role.SYSTEM_ADMIN, None),
        (Role.SYSTEM_ADMIN, Role.COMMAND_CENTRE, "second"),
        (Role.VILLAGE_CADRE, Role.AUDITOR, "first"),
        (Role.GRID_WORKER, Role.SYSTEM_ADMIN, "first"),
    ],
)
def test_raw_insert_of_a_second_role_beside_a_separated_one_is_refused(
    county, first, second, node_for
):
    user = make_user("person")
    _insert(user, first, county.village_a if node_for == "first" else None)
    with (
        nothing_written(),
        pytest.raises(DatabaseError, match="separated roles"),
        transaction.atomic(),
    ):
        _insert(user, second, county.village_a if node_for == "second" else None)
    assert list(RoleAssignment.objects.filter(user=user).values_list("role", flat=True)) == [first]


def test_raw_update_into_a_conflict_is_refused(county):
    user = make_user("person", Role.VILLAGE_CADRE, county.village_a)
    _insert(user, Role.GRID_WORKER, county.grid_a1)
    with (
        nothing_written(),
        pytest.raises(DatabaseError, match="separated roles"),
        transaction.atomic(),
    ):
        RoleAssignment.objects.filter(user=user, role=Role.GRID_WORKER).update(
            role=Role.AUDITOR, node=None
        )
    auditor = make_user("auditor2", Role.AUDITOR)
    with (
        nothing_written(),
        pytest.raises(DatabaseError, match="separated roles"),
        transaction.atomic(),
    ):
        RoleAssignment.objects.filter(user=user, role=Role.GRID_WORKER).update(user=auditor)
    assert sorted(RoleAssignment.objects.filter(user=user).values_list("role", flat=True)) == [
        "grid_worker",
        "village_cadre",
    ]


def test_what_separation_allows_still_goes_in(county):
    cadre = make_user("person", Role.VILLAGE_CADRE, county.village_a)
    _insert(cadre, Role.PARTY_MEMBER, county.village_b)  # two ordinary roles: fine
    _insert(cadre, Role.VILLAGE_CADRE, county.village_b)  # the same role in another place
    auditor = make_user("auditor2", Role.AUDITOR)
    # one separated role alone, and changing it into another separated role, are fine
    RoleAssignment.objects.filter(user=auditor).update(role=Role.SYSTEM_ADMIN)
    assert RoleAssignment.objects.filter(user=cadre).count() == 3
    assert RoleAssignment.objects.get(user=auditor).role == Role.SYSTEM_ADMIN


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has one writer at a time")
def test_two_concurrent_grants_to_one_account_are_checked_one_after_the_other(db):
    """Two transactions (auditor, village cadre) for one account: without the trigger's row lock
    each would see no other role and both would commit."""
    import threading
    import uuid

    import psycopg

    db_settings = connection.settings_dict
    params = {
        "host": db_settings["HOST"] or "127.0.0.1",
        "port": db_settings["PORT"] or 5432,
        "user": db_settings["USER"],
        "password": db_settings["PASSWORD"] or None,
        "dbname": db_settings["NAME"],
    }
    name = f"race-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**params, autocommit=True) as setup:
        columns = setup.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name ="
            " 'accounts_user' AND is_nullable = 'NO' AND column_default IS NULL AND"
            " is_identity = 'NO' AND column_name <> 'username'"
        ).fetchall()
        samples = {"boolean": False, "integer": 0, "bigint": 0, "smallint": 0}
        values = [samples.get(t, "" if "char" in t or t == "text" else None) for _, t in columns]
        cols = ", ".join(["username"] + [c for c, _ in columns])
        marks = ", ".join(["%s"] * (len(columns) + 1))
        values = [v if v is not None else timezone.now() for v in values]
        user_id = setup.execute(
            f"INSERT INTO accounts_user ({cols}) VALUES ({marks}) RETURNING id",  # noqa: S608
            [name, *values],
        ).fetchone()[0]
    insert = (
        "INSERT INTO accounts_roleassignment (user_id, role, node_id, department_id, created_at)"
        " VALUES (%s, %s, NULL, NULL, now())"
    )
    errors: list[Exception] = []
    try:
        first = psycopg.connect(**params)
        first.execute(insert, [user_id, "auditor"])  # holds the user's row until commit
        second_started = threading.Event()

        def second() -> None:
            try:
                with psycopg.connect(**params) as other:
                    second_started.set()
                    other.execute(insert, [user_id, "party_member"])
                    other.commit()
            except psycopg.Error as exc:
                errors.append(exc)

        thread = threading.Thread(target=second)
        thread.start()
        second_started.wait(5)
        thread.join(1.0)
        assert thread.is_alive()  # waiting for the first transaction's lock
        first.commit()
        first.close()
        thread.join(10)
        assert len(errors) == 1 and "separated roles" in str(errors[0])
        with psycopg.connect(**params) as check:
            roles = check.execute(
                "SELECT role FROM accounts_roleassignment WHERE user_id = %s", [user_id]
            ).fetchall()
        assert roles == [("auditor",)]
    finally:
        with psycopg.connect(**params, autocommit=True) as cleanup:
            cleanup.execute("DELETE FROM accounts_roleassignment WHERE user_id = %s", [user_id])
            cleanup.execute("DELETE FROM accounts_user WHERE id = %s", [user_id])
