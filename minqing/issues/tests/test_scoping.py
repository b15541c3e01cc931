"""Issues are seen only in one's jurisdiction (docs/SECURITY-BAR.md §7): tree roles by place,
departments by what was dispatched or called to them, co-building units by the orders offered to
them. Out of scope answers 404 exactly like a missing issue, and nothing changes."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minqing.accounts.models import NODE_ROLES, RoleAssignment, User
from minqing.audit.models import AuditEvent
from minqing.conftest import PASSWORD
from minqing.issues.models import Issue, IssueEvent, IssueReporter
from minqing.issues.services import (
    issue_call_departments,
    issue_dispatch,
    issue_offer,
    issue_register,
)
from minqing.org.models import Node

MISSING = 999_999

#: Issue routes that take no object (each tested in test_pages.py).
UNSCOPED = {
    "issues:list",
    "issues:board",
    "issues:late",
    "issues:topics",
    "issues:topic_create",
    "issues:settings",  # county-wide settings: command centre only, tested in test_settings.py
    "api:issues",  # the list: filtered by scope, tested in test_lists_and_boards_never_cross_scope
    "api:issue_register",  # an out-of-scope place reads like an unknown one: test_api.py
}

#: Every API route that names an issue: (method, route name).
API_ROUTES = [
    ("get", "api:issue"),
    ("get", "api:issue_similar"),
    ("patch", "api:issue_edit"),
    *(
        ("post", f"api:issue_{step}")
        for step in (
            "dispatch",
            "accept",
            "start",
            "return",
            "transfer",
            "resolve",
            "revisit",
            "close",
            "escalate",
            "extension",
            "add_reporter",
            "merge",
        )
    ),
]


def object_routes(c, issue) -> list[tuple[str, str, dict, str, dict]]:
    """(method, route, kwargs, query, kwargs for a missing object) for every scoped route."""
    return [
        ("get", "issues:detail", {"pk": issue.pk}, "", {"pk": MISSING}),
        ("get", "issues:detail", {"pk": issue.pk}, "?alike=1", {"pk": MISSING}),
        ("get", "issues:alike", {"pk": issue.pk}, "", {"pk": MISSING}),
        ("get", "issues:attach", {"pk": issue.pk}, "", {"pk": MISSING}),
        ("post", "issues:attach", {"pk": issue.pk}, "", {"pk": MISSING}),
        (
            "post",
            "issues:act",
            {"pk": issue.pk, "action": "dispatch"},
            "",
            {"pk": MISSING, "action": "dispatch"},
        ),
        (
            "post",
            "issues:act",
            {"pk": issue.pk, "action": "accept"},
            "",
            {"pk": MISSING, "action": "accept"},
        ),
        ("get", "issues:register", {}, f"?node={c.grid_a1.pk}", {}),
        ("post", "issues:register", {}, f"?household={c.household_a1.pk}", {}),
        ("get", "issues:similar_check", {}, f"?node={c.village_a.pk}&description=灌溉", {}),
        ("post", "issues:photo_upload", {"pk": issue.pk}, "", {"pk": MISSING}),
        (
            "get",
            "issues:photo",
            {"pk": issue.pk, "photo_pk": issue.photos.get().pk},
            "",
            {"pk": MISSING, "photo_pk": issue.photos.get().pk},
        ),
    ]


ROUTE_NAMES = {name for _, name in API_ROUTES} | {
    "issues:photo_upload",
    "issues:photo",
    "issues:detail",
    "issues:alike",
    "issues:attach",
    "issues:act",
    "issues:register",
    "issues:similar_check",
}


def _url(name, kwargs, query, missing):
    if not kwargs:  # registration routes: the missing object is the place in the query
        return reverse(name) + query.split("=")[0] + f"={MISSING}"
    return reverse(name, kwargs=missing)


@pytest.fixture
def issue(county, member, irrigation):
    from minqing.issues.photos import photo_add
    from minqing.issues.tests.test_photos import PNG

    issue = issue_register(
        by=member,
        node=county.grid_a1,
        household=county.household_a1,
        category=irrigation,
        description="村东头的灌溉水渠破了",
        colour="yellow",
    )
    photo_add(by=member, issue=issue, data=PNG)
    return issue


def _state():
    return (
        Issue.objects.count(),
        IssueEvent.objects.count(),
        IssueReporter.objects.count(),
        AuditEvent.objects.count(),
        list(Issue.objects.values_list("version", "status")),
    )


def test_outsider_gets_the_same_404_as_for_a_missing_issue_and_nothing_changes(
    client, county, outsider, issue
):
    client.force_login(outsider)
    before = _state()
    form = {"description": "x", "colour": "blue", "category": issue.category_id, "to": "x"}
    for method, name, kwargs, query, missing in object_routes(county, issue):
        url = reverse(name, kwargs=kwargs) + query
        absent_url = _url(name, kwargs, query, missing)
        call = client.get if method == "get" else (lambda u: client.post(u, form))
        out_of_scope, absent = call(url), call(absent_url)
        assert (out_of_scope.status_code, absent.status_code) == (404, 404), (method, name)
        assert out_of_scope.content == absent.content, (method, name)
    assert _state() == before


def test_anonymous_is_sent_to_login(client, county, issue):
    for method, name, kwargs, query, _missing in object_routes(county, issue):
        url = reverse(name, kwargs=kwargs) + query
        response = client.get(url) if method == "get" else client.post(url, {})
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("accounts:login"))


def test_department_sees_only_what_is_sent_or_called_to_it(
    client, county, town, water, departments, issue
):
    from minqing.conftest import make_user

    power = make_user("power", "department", department=departments.power)
    detail = reverse("issues:detail", kwargs={"pk": issue.pk})
    client.force_login(water)
    assert client.get(detail).status_code == 404
    issue_dispatch(by=town, issue=issue, to_department=departments.water)
    assert client.get(detail).status_code == 200
    client.force_login(power)
    assert client.get(detail).status_code == 404
    assert list(Issue.objects.visible_to(power)) == []
    issue_call_departments(by=town, issue=issue, departments=[departments.power])
    assert client.get(detail).status_code == 200


def test_co_building_unit_sees_offered_orders_only(county, town, member, shop, issue, irrigation):
    order = issue_register(
        by=member,
        node=county.grid_a1,
        category=irrigation,
        description="想请人帮忙修一下院里的水管",
        colour="yellow",
        source="resident",
        reporter_name="王秀英",
    )
    assert list(Issue.objects.visible_to(shop)) == []
    issue_offer(by=town, issue=order)
    assert list(Issue.objects.visible_to(shop)) == [order]


def test_lists_and_boards_never_cross_scope(client, county, outsider, owner, issue):
    client.force_login(outsider)
    for name in ("issues:list", "issues:board"):
        assert issue.title not in client.get(reverse(name)).content.decode()
    client.force_login(owner)
    assert issue.title in client.get(reverse("issues:list")).content.decode()


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_property_issue_visible_iff_placed_in_the_users_subtree(county, member, irrigation, data):
    if not Issue.objects.exists():
        builder = User.objects.get(username="fixture_builder")
        for node in (county.grid_a1, county.grid_a2, county.grid_b1):
            issue_register(
                by=builder, node=node, category=irrigation, description="水渠坏了", colour="blue"
            )
    node = data.draw(st.sampled_from(list(Node.objects.all())))
    role = data.draw(st.sampled_from(sorted(NODE_ROLES)))
    user = User.objects.create_user(username=f"u{User.objects.count()}", password=PASSWORD)
    RoleAssignment.objects.create(user=user, role=role, node=node)
    for issue in Issue.objects.all():
        expected = issue.node_path.startswith(node.path)
        assert Issue.objects.visible_to(user).filter(pk=issue.pk).exists() == expected


def test_every_scoped_route_named_here_is_exercised_above(county, issue):
    pages = {name for _, name, *_ in object_routes(county, issue)}
    assert pages | {name for _, name in API_ROUTES} == ROUTE_NAMES


def test_api_answers_an_outsider_exactly_as_for_a_missing_issue(client, county, outsider, issue):
    client.force_login(outsider)
    before = _state()
    body = {
        "reason": "x",
        "resolution": "x",
        "mode": "phone",
        "result": "satisfied",
        "workdays": 1,
        "target": issue.pk,
        "to_node": county.town_a.pk,
    }
    for method, name in API_ROUTES:
        responses = []
        for pk in (issue.pk, MISSING):
            url = reverse(name, kwargs={"pk": pk})
            if method == "get":
                responses.append(client.get(url))
            elif method == "patch":
                body_patch = json.dumps({"version": 1, "title": "x"})
                responses.append(client.patch(url, body_patch, content_type="application/json"))
            else:
                responses.append(
                    client.post(url, data=json.dumps(body), content_type="application/json")
                )
        assert [r.status_code for r in responses] == [404, 404], name
        assert responses[0].content == responses[1].content, name
    assert _state() == before
