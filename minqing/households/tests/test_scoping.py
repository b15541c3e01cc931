"""Jurisdiction on every route: out-of-scope answers 404 exactly like a missing object."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minqing.accounts.models import NODE_ROLES, RoleAssignment, User
from minqing.audit.models import AuditEvent
from minqing.conftest import PASSWORD, add_child, make_user
from minqing.households.models import ArchiveChange, Household, Resident
from minqing.households.selectors import search
from minqing.org.models import Node

MISSING = 999_999

#: Routes that take no object and are not scoped by an id (each tested elsewhere).
UNSCOPED = {
    "healthz",
    "set_language",
    "accounts:login",
    "accounts:password_change",
    "accounts:logout",
    "org:home",
    "households:search",
    "api:search",
    # the OpenAPI document (auth tested in accounts/tests/test_api_tokens) and ninja's api root
    "api:openapi-json",
    "api:api-root",
    "audit:log",
    "audit:export",  # the auditor's only: tested in audit/tests/test_audit_log
    "favicon",
    "ledger:template",
    # a user's own notifications: scoped by recipient, tested in notifications/tests
    "notifications:list",
    "notifications:mark_read",
    "notifications:open",
    "workdays:calendar",  # county-wide, no object: tested in workdays/tests/test_views
    # public, scoped by a signed token (tested in public/tests/test_submission)
    "public:submit",
    "public:thanks",
}


def all_route_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, f"{prefix}{p.namespace}:" if p.namespace else prefix)
            elif isinstance(p, URLPattern) and p.name:
                names.add(prefix + p.name)

    walk(get_resolver().url_patterns)
    return names


def _ledger_import_of_village_a(c):
    """An import report belongs to its uploader: the village cadre when there is one."""
    from minqing.households.ledger.importer import ledger_check
    from minqing.households.models import LedgerImport

    owner = User.objects.filter(username="owner").first() or User.objects.get(
        username="fixture_builder"
    )
    data = "村/社区,户编号,户主姓名,姓名,与户主关系\n王庄村,A009,王九,王九,户主\n".encode()
    ledger_check(by=owner, node=c.village_a, filename="ledger.csv", data=data)
    return LedgerImport.objects.get()


def object_routes(c) -> list[tuple[str, str, dict, dict]]:
    """(method, route name, kwargs for village A, kwargs with MISSING) for every scoped route."""
    h, r, v, g = c.household_a1, c.resident_a1, c.village_a, c.grid_a1
    imp = _ledger_import_of_village_a(c)
    routes = [
        ("get", "org:node", {"pk": v.pk}),
        ("get", "households:detail", {"pk": h.pk}),
        ("get", "households:edit", {"pk": h.pk}),
        ("post", "households:edit", {"pk": h.pk}),
        ("get", "households:resident_add", {"pk": h.pk}),
        ("post", "households:resident_add", {"pk": h.pk}),
        ("get", "households:resident_edit", {"pk": r.pk}),
        ("post", "households:resident_edit", {"pk": r.pk}),
        ("get", "households:resident_remove", {"pk": r.pk}),
        ("post", "households:resident_remove", {"pk": r.pk}),
        ("get", "households:create", {"node_pk": g.pk}),
        ("post", "households:create", {"node_pk": g.pk}),
        ("get", "households:village_archive_edit", {"node_pk": v.pk}),
        ("post", "households:village_archive_edit", {"node_pk": v.pk}),
        ("post", "households:reveal", {"kind": "resident", "pk": r.pk, "field": "id_number"}),
        ("post", "households:reveal", {"kind": "household", "pk": h.pk, "field": "phone"}),
        ("get", "api:node", {"pk": v.pk}),
        ("get", "api:household", {"pk": h.pk}),
        ("post", "api:reveal", {"kind": "residents", "pk": r.pk}),
        ("post", "api:reveal", {"kind": "households", "pk": h.pk}),
        ("get", "ledger:import", {"node_pk": v.pk}),
        ("post", "ledger:import", {"node_pk": v.pk}),
        ("get", "ledger:export", {"node_pk": v.pk}),
        ("post", "ledger:export", {"node_pk": v.pk}),
        ("get", "ledger:report", {"pk": imp.pk}),
        ("post", "ledger:report", {"pk": imp.pk}),
        ("get", "ledger:errors", {"pk": imp.pk}),
        ("get", "contacts:ledger", {"node_pk": v.pk}),
        ("get", "contacts:ledger_xlsx", {"node_pk": v.pk}),
        ("post", "contacts:ledger_xlsx", {"node_pk": v.pk}),
        ("get", "contacts:coverage", {"node_pk": v.pk}),
        ("get", "contacts:cards", {"node_pk": v.pk}),
        ("get", "contacts:cards_pdf", {"node_pk": v.pk}),
    ]
    out = []
    for method, name, kwargs in routes:
        missing = {k: (MISSING if k in ("pk", "node_pk") else val) for k, val in kwargs.items()}
        out.append((method, name, kwargs, missing))
    return out


FORM = {
    "number": "X9",
    "head_name": "某某",
    "reason": "迁出",
    "name": "某某",
    "relation": "other",
    "politics": "masses",
    "health": "healthy",
}


def _request(client, method, name, kwargs):
    url = reverse(name, kwargs=kwargs)
    if method == "get":
        return client.get(url)
    if name.startswith("api:"):
        return client.post(url, data='{"field": "phone"}', content_type="application/json")
    return client.post(url, FORM)


def test_every_route_is_covered(county):
    from minqing.contacts.tests import test_manage_scoping as contacts_manage
    from minqing.issues.tests import test_scoping as issues
    from minqing.visits.tests import test_compliance_pages as visits_cadence
    from minqing.visits.tests import test_scoping as visits

    covered = {name for _, name, _, _ in object_routes(county)} | UNSCOPED
    covered |= issues.ROUTE_NAMES | issues.UNSCOPED
    covered |= contacts_manage.ROUTE_NAMES
    covered |= visits.ROUTE_NAMES | visits.UNSCOPED | visits_cadence.ROUTE_NAMES
    from minqing.menus.tests import test_scoping as menus

    covered |= menus.ROUTE_NAMES | menus.UNSCOPED
    from minqing.accounts.tests import test_otp as accounts_otp
    from minqing.accounts.tests import test_user_admin as accounts_admin

    covered |= accounts_otp.UNSCOPED | accounts_admin.ROUTE_NAMES
    from minqing.accounts.tests import test_token_lifecycle as accounts_tokens

    covered |= accounts_tokens.ROUTE_NAMES
    missing = all_route_names() - covered
    assert missing == set(), f"add these routes to the scoping test: {sorted(missing)}"


def test_outsider_gets_404_on_every_object_route_and_nothing_changes(client, county, outsider):
    client.force_login(outsider)
    before = (
        Household.objects.count(),
        Resident.objects.count(),
        ArchiveChange.objects.count(),
        AuditEvent.objects.filter(action="personal_data.reveal").count(),
    )
    for method, name, kwargs, missing in object_routes(county):
        out_of_scope = _request(client, method, name, kwargs)
        absent = _request(client, method, name, missing)
        assert out_of_scope.status_code == 404, (method, name, out_of_scope.status_code)
        assert absent.status_code == 404, (method, name, absent.status_code)
        # 404 for out-of-scope must look exactly like 404 for a missing object
        assert out_of_scope.content == absent.content, (method, name)
    after = (
        Household.objects.count(),
        Resident.objects.count(),
        ArchiveChange.objects.count(),
        AuditEvent.objects.filter(action="personal_data.reveal").count(),
    )
    assert after == before
    county.household_a1.refresh_from_db()
    assert county.household_a1.version == 1


def test_owner_reaches_every_get_route_of_own_village(client, county, owner):
    client.force_login(owner)
    names = all_route_names()
    for method, name, kwargs, _missing in object_routes(county):
        if method == "get" and name in names:
            response = client.get(reverse(name, kwargs=kwargs))
            assert response.status_code == 200, (name, response.status_code)


def test_grid_worker_sees_own_grid_but_not_the_next(client, county, member):
    client.force_login(member)
    assert (
        client.get(reverse("households:detail", kwargs={"pk": county.household_a1.pk})).status_code
        == 200
    )
    assert (
        client.get(reverse("households:detail", kwargs={"pk": county.household_a2.pk})).status_code
        == 404
    )
    assert client.get(reverse("org:node", kwargs={"pk": county.village_a.pk})).status_code == 404


def test_anonymous_is_sent_to_login_everywhere(client, county):
    for method, name, kwargs, _ in object_routes(county):
        if name not in all_route_names():
            continue
        response = _request(client, method, name, kwargs)
        if name.startswith("api:"):
            assert response.status_code == 401, name
        else:
            assert response.status_code == 302, name
            assert response["Location"].startswith(reverse("accounts:login")), name
    assert client.get(reverse("households:search") + "?q=王").status_code == 302
    assert client.get(reverse("api:search") + "?q=王").status_code == 401


def test_user_without_role_sees_nothing(client, county):
    nobody = make_user("nobody")
    client.force_login(nobody)
    assert (
        client.get(reverse("households:detail", kwargs={"pk": county.household_a1.pk})).status_code
        == 404
    )
    assert search(nobody, "王").total == 0


@pytest.mark.parametrize("query", ["王建国", "王", "341602197003"])
def test_search_never_crosses_scope(county, outsider, owner, query):
    assert all(h.village_id == county.village_b.pk for h in search(outsider, query).households)
    assert all(
        r.household.village_id == county.village_b.pk for r in search(outsider, query).residents
    )


def test_search_by_exact_id_and_phone_respects_scope(county, owner, outsider):
    id_number = county.resident_a1.id_number.reveal()
    assert [r.pk for r in search(owner, id_number).residents] == [county.resident_a1.pk]
    assert search(outsider, id_number).residents == []
    assert [r.pk for r in search(owner, "138 1234 5678").residents] == [county.resident_a1.pk]
    assert search(outsider, "13812345678").total == 0


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_property_no_cross_scope_reads(county, data):
    """Random role at a random node: a household is visible iff its node lies in that subtree."""
    nodes = list(Node.objects.all())
    node = data.draw(st.sampled_from(nodes))
    role = data.draw(st.sampled_from(sorted(NODE_ROLES)))
    user = User.objects.create_user(username=f"u{User.objects.count()}", password=PASSWORD)
    RoleAssignment.objects.create(user=user, role=role, node=node)
    for household in Household.objects.select_related("node"):
        expected = household.node.path.startswith(node.path)
        visible = Household.objects.visible_to(user).filter(pk=household.pk).exists()
        assert visible == expected, (node.name, household.number)
    for resident in Resident.objects.select_related("household__node"):
        expected = resident.household.node.path.startswith(node.path)
        assert Resident.objects.visible_to(user).filter(pk=resident.pk).exists() == expected


def test_minor_record_is_restricted_for_grid_worker(client, county, member, owner):
    child = add_child(owner, county.household_a1, "王小宝", age=8, sex="M", seq=7)
    client.force_login(member)
    page = client.get(reverse("households:detail", kwargs={"pk": county.household_a1.pk}))
    assert "王小宝" not in page.content.decode()
    response = client.post(
        reverse(
            "households:reveal", kwargs={"kind": "resident", "pk": child.pk, "field": "id_number"}
        )
    )
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="personal_data.reveal").exists()
    client.force_login(owner)
    assert (
        "王小宝"
        in client.get(
            reverse("households:detail", kwargs={"pk": county.household_a1.pk})
        ).content.decode()
    )


def test_search_hides_names_of_minors_from_roles_without_permission(client, county, member, owner):
    add_child(owner, county.household_a1, "王小妹", age=6, sex="F", seq=9)
    client.force_login(member)
    assert "王小妹" not in client.get(reverse("households:search") + "?q=王小").content.decode()
    assert "王小妹" not in client.get(reverse("api:search") + "?q=王小").content.decode()
    client.force_login(owner)
    assert "王小妹" in client.get(reverse("households:search") + "?q=王小").content.decode()
