"""The demo builder: valid, unique, correctly counted data, as the ORM and search see it."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

import pytest
from django.contrib.auth.password_validation import validate_password
from django.db import connection

from minqing.accounts.models import Role, RoleAssignment, User
from minqing.accounts.scope import scope_for
from minqing.audit.models import AuditEvent
from minqing.demo.builder import BuildOptions, build_county
from minqing.demo.database import database_state, demo_marker
from minqing.demo.loader import BIG_TABLES, ISSUE_TABLES
from minqing.demo.people import Batch, IdAllocator, Sealer, generate_batch
from minqing.demo.plan import Size, plan_county
from minqing.demo.users import DEMO_USERS, new_password, reset_demo_passwords
from minqing.households.models import Household, Resident, VillageArchive
from minqing.households.selectors import search
from minqing.lib import crypto
from minqing.lib.idcard import (
    birth_date_from_id,
    sex_from_id,
    validate_id_number,
    validate_phone,
)
from minqing.org.models import Level, Node
from minqing.org.services import recount_tree


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def built(db):
    return build_county(BuildOptions(households=50, seed=7, workers=0))


def test_sealer_writes_what_the_fields_read(settings, tmp_path):
    from minqing.demo import people
    from minqing.demo.issues import REPORTER_PHONE
    from minqing.households.models import Household, Resident
    from minqing.issues.models import IssueReporter

    ring = crypto.keyring()
    sealer = Sealer(ring)
    seal, column = sealer.seal_id()
    assert column == seal.hex()
    blob = sealer.encrypt("341602198001010018", people.RESIDENT_ID, seal)
    field = Resident._meta.get_field("id_number")
    assert crypto.decrypt(blob, ring, context=field.context) == "341602198001010018"
    assert crypto.seal_id_of(blob) == seal
    # same version, key id and seal id header as the field writes
    assert blob[:19] == crypto.encrypt("x", ring, context="", seal_id=seal)[:19]
    assert sealer.blind_index("13800000000", "phone") == crypto.blind_index(
        "13800000000", "phone", ring
    )
    contexts = {
        people.HOUSEHOLD_PHONE: Household._meta.get_field("phone"),
        people.HOUSEHOLD_INCOME: Household._meta.get_field("income_notes"),
        people.RESIDENT_ID: Resident._meta.get_field("id_number"),
        people.RESIDENT_PHONE: Resident._meta.get_field("phone"),
        people.RESIDENT_HEALTH: Resident._meta.get_field("health_notes"),
        REPORTER_PHONE: IssueReporter._meta.get_field("phone"),
    }
    assert {c: f.context for c, f in contexts.items()} == {c: c for c in contexts}


def test_id_allocator_never_repeats_a_number():
    today = dt.date(2025, 6, 1)
    born = dt.date(1970, 1, 1)
    allocators = [IdAllocator(i, 3) for i in range(3)]
    numbers = [a.take(born, sex, today)[1] for a in allocators for sex in "MF" for _ in range(300)]
    assert len(set(numbers)) == len(numbers)
    for number in numbers:
        validate_id_number(number)


def test_plan_of_the_qiaocheng_preset():
    plan = plan_county(Size.preset("qiaocheng"), seed=1)
    levels = Counter(n.level for n in plan.nodes)
    assert levels[Level.COUNTY] == 1
    assert levels[Level.TOWN] == 20
    assert levels[Level.VILLAGE] == 275
    assert levels[Level.GRID] == 5320
    assert levels[Level.AREA] > 0
    assert sum(v.households for v in plan.villages) == 530_000
    names_per_parent = Counter((n.parent_id, n.name) for n in plan.nodes)
    assert max(names_per_parent.values()) == 1
    for node in plan.nodes:
        digits = {
            Level.COUNTY: 6,
            Level.TOWN: 9,
            Level.VILLAGE: 12,
            Level.AREA: 15,
            Level.GRID: 15,
        }[node.level]
        assert len(node.code) == digits and node.code.isdigit() and node.code.startswith("341602")
    grid_names = {n.level_name for n in plan.nodes if n.level == Level.GRID}
    assert grid_names == {"村民小组", "网格", "楼栋"}


def test_built_county_has_valid_unique_ids(built):
    residents = list(Resident.objects.all())
    assert len(residents) == built.residents > built.households == 50
    hashes = [r.id_number_hash for r in residents]
    assert len(set(hashes)) == len(hashes)
    for r in residents:
        number = r.id_number.reveal()
        assert validate_id_number(number) == number
        assert number.startswith("341602")
        assert birth_date_from_id(number) == r.birth_date
        assert sex_from_id(number) == r.sex
        assert r.id_number_hash == crypto.blind_index(number, "id_number")
        if r.phone:
            assert validate_phone(r.phone.reveal())
            assert r.phone_hash == crypto.blind_index(r.phone.reveal(), "phone")


def test_families_are_plausible(built):
    for household in Household.objects.prefetch_related("members"):
        members = list(household.members.all())
        assert 1 <= len(members) <= 7
        assert household.member_count == len(members)
        heads = [m for m in members if m.relation == "head"]
        assert len(heads) == 1 and heads[0].name == household.head_name
        for m in members:
            if m.relation == "child":
                assert m.birth_date > heads[0].birth_date
            if m.relation == "parent":
                assert m.birth_date < heads[0].birth_date


def test_cumulative_counts_match_a_recount(built):
    before = dict(Node.objects.values_list("id", "household_count"))
    assert recount_tree() == 0
    county = Node.objects.get(level=Level.COUNTY)
    assert county.household_count == 50 and county.resident_count == built.residents
    assert sum(before[v.pk] for v in Node.objects.filter(level=Level.VILLAGE)) == 50


def test_search_finds_a_resident_by_exact_id_and_phone(built):
    county_user = User.objects.get(username="county")
    resident = Resident.objects.exclude(phone=None).select_related("household").first()
    found = search(county_user, resident.id_number.reveal())
    assert found.kind == "id_number"
    assert [r.pk for r in found.residents] == [resident.pk]
    found = search(county_user, resident.phone.reveal())
    assert resident.pk in [r.pk for r in found.residents]


def test_demo_users_roles_and_scope(built):
    usernames = set(User.objects.values_list("username", flat=True))
    assert set(DEMO_USERS) <= usernames
    # everyone else is a generated member of staff or a group leader (gl<liaison id>, who
    # answers the campaign's households) and none of them can log in
    for user in User.objects.exclude(username__in=list(DEMO_USERS)):
        assert not user.has_usable_password()
        assert user.username.startswith("staff-") or (
            user.username.startswith("gl")
            and user.username[2:].isdigit()
            and user.roles.filter(role=Role.GROUP_LEADER).exists()
        ), user.username
    county = Node.objects.get(level=Level.COUNTY)
    for username, (role, where) in DEMO_USERS.items():
        assignment = RoleAssignment.objects.select_related("node", "department").get(
            user__username=username
        )
        assert assignment.role == role
        if where is None:
            assert assignment.node is None and assignment.department is None
        elif where.startswith("department:"):
            assert assignment.department.code == where.partition(":")[2]
            assert assignment.department.county_id == county.pk
        else:
            assert (
                assignment.node.level
                == {
                    "county": Level.COUNTY,
                    "town": Level.TOWN,
                    "village": Level.VILLAGE,
                    "grid": Level.GRID,
                }[where]
            )
    village_user = User.objects.get(username="village")
    village = RoleAssignment.objects.get(user=village_user).node
    scope = scope_for(village_user)
    assert scope.covers_path(village.path) and not scope.covers_path(county.path)
    assert Household.objects.visible_to(village_user).count() == village.household_count
    assert Household.objects.visible_to(User.objects.get(username="county")).count() == 50
    town = RoleAssignment.objects.get(user__username="town").node
    assert village.path.startswith(town.path)
    assert scope_for(User.objects.get(username="auditor")).roles == {Role.AUDITOR}


def test_build_marks_the_database_and_audits(built):
    assert database_state() == "demo"
    assert demo_marker()["households"] == 50
    assert AuditEvent.objects.filter(action="demo.build").count() == 1
    assert VillageArchive.objects.count() == built.archives


def test_fresh_passwords_on_every_start(built):
    first = {x.username: x.password for x in reset_demo_passwords()}
    second = {x.username: x.password for x in reset_demo_passwords()}
    assert set(first) == set(DEMO_USERS)
    for username in first:
        assert first[username] != second[username]
        user = User.objects.get(username=username)
        validate_password(second[username], user)
        assert user.check_password(second[username])
        assert not user.check_password(first[username])
    assert AuditEvent.objects.filter(action="demo.passwords_reset").count() == 2


def test_new_password_passes_the_validators():
    passwords = {new_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        validate_password(password)


def _index_names() -> set[str]:
    tables = (*BIG_TABLES, *ISSUE_TABLES)
    marks = ", ".join(["%s"] * len(tables))
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                f"AND tbl_name IN ({marks})",
                tables,
            )
        else:
            # Names only: a re-created partial index reads back with its casts spelt out
            # differently (``'registered'::character varying`` …), the same index.
            cur.execute(
                f"SELECT indexname, '' FROM pg_indexes WHERE tablename IN ({marks})", tables
            )
            rows = cur.fetchall()
            cur.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE "
                f"conrelid::regclass::text IN ({marks})",
                tables,
            )
            return set(rows) | set(cur.fetchall())
        return set(cur.fetchall())


def test_deferred_indexes_and_workers_restore_the_schema(db):
    before = _index_names()
    report = build_county(BuildOptions(households=120, seed=3, workers=2, defer_indexes=True))
    assert report.workers == 2
    assert _index_names() == before
    assert recount_tree() == 0
    hashes = list(Resident.objects.values_list("id_number_hash", flat=True))
    assert len(set(hashes)) == len(hashes) == report.residents


def test_same_seed_same_people(db):
    plan = plan_county(Size.for_households(40), seed=5)
    batch = Batch(
        seed=5,
        index=0,
        count=1,
        villages=plan.villages,
        tag_ids=defaultdict(int),
        ring=crypto.keyring(),
        today=dt.date(2025, 1, 1),
        stamp="",
        dates_as_text=True,
    )
    first, second = generate_batch(batch), generate_batch(batch)
    assert [(r[1], r[2], r[4]) for r in first.residents] == [
        (r[1], r[2], r[4]) for r in second.residents
    ]
    assert first.residents[0][5] != second.residents[0][5]  # fresh nonce, same plaintext


def test_fast_id_numbers_equal_make_id_number():
    import random

    from minqing.demo.people import IdNumbers
    from minqing.lib.idcard import make_id_number

    rng = random.Random(1)
    numbers = IdNumbers("341602")
    for _ in range(5000):
        born = dt.date(1900, 1, 1) + dt.timedelta(days=rng.randrange(45_000))
        seq, sex = rng.randrange(500), rng.choice("MF")
        assert numbers.make(born, seq, sex) == make_id_number("341602", born, seq, sex)
