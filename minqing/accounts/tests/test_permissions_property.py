"""Property: for random users holding 1–3 roles on random nodes, every page and API answer about
a household, a resident or a village equals the oracle "some role held on an ancestor-or-self
node of the object grants this action", and nothing outside the answer is read or written
(docs/SECURITY-BAR.md §7, §10–12; two roles never add up to more than each).

The oracle walks ``parent`` links, not the materialised paths the code compares, and reads the
policy table (which roles grant which action) from ``accounts.models``: what is tested is *where*
a role applies, the question the "role anywhere" checks got wrong.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from dataclasses import dataclass

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minqing.accounts.models import (
    ARCHIVE_EDIT_ROLES,
    MINOR_ROLES,
    NODE_ROLES,
    REVEAL_ROLES,
    RoleAssignment,
    User,
)
from minqing.audit.models import AuditEvent
from minqing.conftest import PASSWORD, add_child
from minqing.households.models import Household, Resident, VillageArchive
from minqing.households.services import household_create
from minqing.org.models import Node
from minqing.tests.dbstate import nothing_written

MISSING = 999_999
VIEW, REVEAL, EDIT, MINORS = "view", "reveal", "edit_archive", "see_minors"
POLICY = {VIEW: NODE_ROLES, REVEAL: REVEAL_ROLES, EDIT: ARCHIVE_EDIT_ROLES, MINORS: MINOR_ROLES}
CHILDREN = ("张甲", "张乙", "张丙")
_serial = itertools.count()


@dataclass
class World:
    nodes: list[Node]
    parent: dict[int, int | None]
    households: list[Household]
    residents: list[Resident]
    villages: list[Node]
    children: dict[str, Resident]


@pytest.fixture
def world(county, county_user) -> World:
    """The county fixture plus a household right under village A (no grid) and a child under
    14 in three households: grid A1, village A itself, grid B1."""
    a3 = household_create(
        by=county_user,
        node=county.village_a,
        data={"number": "A003", "head_name": "王三", "address": "村部旁", "phone": "13612345678"},
    )
    children = {
        CHILDREN[0]: add_child(county_user, county.household_a1, CHILDREN[0], seq=21),
        CHILDREN[1]: add_child(county_user, a3, CHILDREN[1], seq=22),
        CHILDREN[2]: add_child(county_user, county.household_b1, CHILDREN[2], seq=23),
    }
    nodes = list(Node.objects.order_by("path"))
    return World(
        nodes=nodes,
        parent={n.pk: n.parent_id for n in nodes},
        households=list(Household.objects.select_related("node").order_by("pk")),
        residents=list(Resident.objects.select_related("household__node").order_by("pk")),
        villages=[county.village_a, county.village_b],
        children=children,
    )


def oracle(world: World, grants: list[tuple[str, int]], action: str, node_id: int) -> bool:
    """Does some (role, node) held lie on ``node_id`` or above it, with a role for ``action``?"""
    above: set[int] = set()
    current: int | None = node_id
    while current is not None:
        above.add(current)
        current = world.parent[current]
    return any(node in above and role in POLICY[action] for role, node in grants)


def snapshot():
    return (
        sorted(Household.objects.values_list("pk", "version", "address")),
        sorted(Resident.objects.values_list("pk", "occupation", "updated_at")),
        sorted(VillageArchive.objects.values_list("village_id", "version", "committee")),
    )


def audit_count(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


def _text(response) -> str:
    """The body as a reader sees it (JSON escapes non-ASCII)."""
    if response.get("Content-Type", "").startswith("application/json"):
        return json.dumps(response.json(), ensure_ascii=False)
    return response.content.decode()


def _json_post(client, url: str, payload: dict):
    return client.post(url, data=json.dumps(payload), content_type="application/json")


def _unless(success: bool):
    """A refused request (the answer is not ``success``) writes nothing at all."""
    return contextlib.nullcontext() if success else nothing_written()


def check_household(client, world, grants, h: Household) -> None:
    may = {a: oracle(world, grants, a, h.node_id) for a in POLICY}
    # a page shows (and so drops) the "saved" message an earlier edit left in the session
    client.get(reverse("households:detail", kwargs={"pk": MISSING}))
    detail = client.get(reverse("households:detail", kwargs={"pk": h.pk}))
    api = client.get(reverse("api:household", kwargs={"pk": h.pk}))
    if not may[VIEW]:
        missing = client.get(reverse("households:detail", kwargs={"pk": MISSING}))
        assert detail.status_code == api.status_code == 404, h.number
        assert detail.content == missing.content  # out of scope looks exactly like missing
        assert h.head_name not in _text(api)
    else:
        assert detail.status_code == api.status_code == 200, h.number
        body = detail.content.decode()
        members = {m["id"]: m for m in api.json()["members"]}
        for resident in h.members.all():
            shown = not resident.is_minor or may[MINORS]
            assert (resident.name in body) == shown, (h.number, resident.name, may)
            assert ("name" in members[resident.pk]) == shown, (h.number, resident.name)
            assert (resident.name in _text(api)) == shown
        # buttons only where the service would accept the request
        assert (reverse("households:edit", kwargs={"pk": h.pk}) in body) == may[EDIT]
        assert ("/reveal/" in body) == may[REVEAL]

    # reveal, page and API
    before = audit_count("personal_data.reveal")
    want = 404 if not may[VIEW] else (200 if may[REVEAL] else 403)
    with _unless(want == 200):
        page = client.post(
            reverse("households:reveal", kwargs={"kind": "household", "pk": h.pk, "field": "phone"})
        )
        by_api = _json_post(
            client,
            reverse("api:reveal", kwargs={"kind": "households", "pk": h.pk}),
            {"field": "phone"},
        )
    assert page.status_code == by_api.status_code == want, (h.number, may)
    phone = h.phone.reveal()
    assert (phone in page.content.decode()) == (want == 200)
    assert (phone in _text(by_api)) == (want == 200)
    assert audit_count("personal_data.reveal") == before + (2 if want == 200 else 0)

    # edit the archive
    before_rows = snapshot()
    fresh = Household.objects.get(pk=h.pk)
    marker = f"地址{next(_serial)}"
    want = 404 if not may[VIEW] else (302 if may[EDIT] else 403)
    with _unless(want == 302):
        response = client.post(
            reverse("households:edit", kwargs={"pk": h.pk}),
            {
                "version": fresh.version,
                "number": fresh.number,
                "head_name": fresh.head_name,
                "address": marker,
                "node": fresh.node_id,
                "income_source": fresh.income_source,
            },
        )
    assert response.status_code == want, (h.number, may, response.status_code)
    after_rows = snapshot()
    if want == 302:
        changed = [row for row in after_rows[0] if row not in before_rows[0]]
        assert [(pk, address) for pk, _v, address in changed] == [(h.pk, marker)]
        assert after_rows[1:] == before_rows[1:]
    else:
        assert after_rows == before_rows


def check_resident(client, world, grants, r: Resident) -> None:
    node_id = r.household.node_id
    may = {a: oracle(world, grants, a, node_id) for a in POLICY}
    sees_record = not r.is_minor or may[MINORS]
    before = audit_count("personal_data.reveal")
    want = 404 if not may[VIEW] else (200 if may[REVEAL] and sees_record else 403)
    with _unless(want == 200):
        response = client.post(
            reverse(
                "households:reveal", kwargs={"kind": "resident", "pk": r.pk, "field": "id_number"}
            )
        )
        by_api = _json_post(
            client,
            reverse("api:reveal", kwargs={"kind": "residents", "pk": r.pk}),
            {"field": "id_number"},
        )
    assert response.status_code == by_api.status_code == want, (r.name, may)
    number = r.id_number.reveal()
    assert (number in response.content.decode()) == (want == 200)
    assert (number in _text(by_api)) == (want == 200)
    assert audit_count("personal_data.reveal") == before + (2 if want == 200 else 0)

    before_rows = snapshot()
    marker = f"职业{next(_serial)}"
    version = Resident.objects.get(pk=r.pk).version
    want = 404 if not may[VIEW] else (302 if may[EDIT] and sees_record else 403)
    with _unless(want == 302):
        edit = client.post(
            reverse("households:resident_edit", kwargs={"pk": r.pk}),
            {
                "name": r.name,
                "relation": r.relation,
                "sex": r.sex,
                "birth_date": r.birth_date.isoformat() if r.birth_date else "",
                "politics": r.politics,
                "health": r.health,
                "occupation": marker,
                "version": version,
            },
        )
    assert edit.status_code == want, (r.name, may, edit.status_code)
    assert (marker in edit.content.decode()) is False or want == 200
    after_rows = snapshot()
    if want == 302:
        changed = [row for row in after_rows[1] if row not in before_rows[1]]
        assert [(pk, occupation) for pk, occupation, _at in changed] == [(r.pk, marker)]
        assert after_rows[2] == before_rows[2]
    else:
        assert after_rows == before_rows


def check_village(client, world, grants, v: Node) -> None:
    may = {a: oracle(world, grants, a, v.pk) for a in POLICY}
    page = client.get(reverse("org:node", kwargs={"pk": v.pk}))
    api = client.get(reverse("api:node", kwargs={"pk": v.pk}))
    assert page.status_code == api.status_code == (200 if may[VIEW] else 404), (v.name, may)
    if may[VIEW]:
        body = page.content.decode()
        edit_url = reverse("households:village_archive_edit", kwargs={"node_pk": v.pk})
        assert (edit_url in body) == may[EDIT]
        assert (reverse("contacts:cards", kwargs={"node_pk": v.pk}) in body) == may[REVEAL]

    # village archive edit
    before_rows = snapshot()
    archive = VillageArchive.objects.filter(village=v).first()
    marker = f"两委{next(_serial)}"
    want = 404 if not may[VIEW] else (302 if may[EDIT] else 403)
    with _unless(want == 302):
        response = client.post(
            reverse("households:village_archive_edit", kwargs={"node_pk": v.pk}),
            {"version": archive.version if archive else 0, "committee": marker},
        )
    assert response.status_code == want, (v.name, may)
    after_rows = snapshot()
    if want == 302:
        assert VillageArchive.objects.get(village=v).committee == marker
        assert after_rows[:2] == before_rows[:2]
    else:
        assert after_rows == before_rows

    # the ledger: unmasked needs reveal here; the masked one holds each child by its household
    url = reverse("ledger:export", kwargs={"node_pk": v.pk})
    before = audit_count("personal_data.export")
    want = 404 if not may[VIEW] else (200 if may[REVEAL] else 403)
    with _unless(want == 200):
        unmasked = client.post(url, {"format": "csv", "unmasked": "1"})
    assert unmasked.status_code == want, (v.name, may)
    if want == 200:
        b"".join(unmasked.streaming_content)
    assert audit_count("personal_data.export") == before + (1 if want == 200 else 0)
    masked = client.get(url + "?format=csv")
    assert masked.status_code == (200 if may[VIEW] else 404)
    if may[VIEW]:
        text = b"".join(masked.streaming_content).decode("utf-8-sig")
        for name, child in world.children.items():
            if child.household.village_id != v.pk:
                assert name not in text
                continue
            assert (name in text) == oracle(world, grants, MINORS, child.household.node_id)


def check_search(client, world, grants) -> None:
    """One search lists children of every household in scope: each masked by its own place."""
    page = client.get(reverse("households:search") + "?q=张").content.decode()
    api = client.get(reverse("api:search") + "?q=张").json()
    listed = {r["id"]: r["name"] for r in api["residents"]}
    for name, child in world.children.items():
        node_id = child.household.node_id
        if not oracle(world, grants, VIEW, node_id):
            assert child.pk not in listed and name not in page
            continue
        full = oracle(world, grants, MINORS, node_id)
        assert listed[child.pk] == (name if full else "张*"), (name, grants)
        assert (name in page) == full


grant_st = st.tuples(st.sampled_from(sorted(NODE_ROLES)), st.integers(min_value=0, max_value=7))


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_answer_equals_the_oracle_for_random_multi_role_users(client, world, data):
    raw = data.draw(st.lists(grant_st, min_size=1, max_size=3, unique=True), label="grants")
    grants = [(role, world.nodes[i % len(world.nodes)].pk) for role, i in raw]
    user = User.objects.create_user(username=f"prop{next(_serial)}", password=PASSWORD)
    for role, node_id in grants:
        RoleAssignment.objects.create(user=user, role=role, node_id=node_id)
    client.force_login(user)
    kind = data.draw(st.sampled_from(["household", "resident", "village"]), label="kind")
    if kind == "household":
        for h in data.draw(st.lists(st.sampled_from(world.households), min_size=1, max_size=2)):
            check_household(client, world, grants, Household.objects.get(pk=h.pk))
    elif kind == "resident":
        for r in data.draw(st.lists(st.sampled_from(world.residents), min_size=1, max_size=3)):
            check_resident(client, world, grants, Resident.objects.get(pk=r.pk))
    else:
        check_village(client, world, grants, data.draw(st.sampled_from(world.villages)))
    check_search(client, world, grants)


def test_the_oracle_knows_the_attack(world, county):
    """The oracle itself: a cadre of A + party member of B may reveal in A only."""
    grants = [("village_cadre", county.village_a.pk), ("party_member", county.village_b.pk)]
    assert oracle(world, grants, REVEAL, county.grid_a1.pk)
    assert oracle(world, grants, VIEW, county.grid_b1.pk)
    assert not oracle(world, grants, REVEAL, county.grid_b1.pk)
    assert not oracle(world, grants, EDIT, county.town_a.pk)
