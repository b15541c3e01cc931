"""三权分立 in the database (SECURITY.md 8): the trigger refuses what ``role_assign`` refuses,
even for a raw SQL INSERT or UPDATE that skips the service."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from minqing.accounts.models import Role, RoleAssignment
from minqing.conftest import make_user


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
    with pytest.raises(DatabaseError, match="separated roles"), transaction.atomic():
        _insert(user, second, county.village_a if node_for == "second" else None)
    assert list(RoleAssignment.objects.filter(user=user).values_list("role", flat=True)) == [first]


def test_raw_update_into_a_conflict_is_refused(county):
    user = make_user("person", Role.VILLAGE_CADRE, county.village_a)
    _insert(user, Role.GRID_WORKER, county.grid_a1)
    with pytest.raises(DatabaseError, match="separated roles"), transaction.atomic():
        RoleAssignment.objects.filter(user=user, role=Role.GRID_WORKER).update(
            role=Role.AUDITOR, node=None
        )
    auditor = make_user("auditor2", Role.AUDITOR)
    with pytest.raises(DatabaseError, match="separated roles"), transaction.atomic():
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
