"""Every liaison, link, run and rules route: login required, and 404 outside one's jurisdiction
exactly as for a missing object, with nothing written."""

from __future__ import annotations

import pytest
from django.urls import reverse

from minqing.audit.models import AuditEvent
from minqing.contacts.models import AssignmentRun, ContactLink, Liaison, LiaisonKind
from minqing.contacts.services import liaison_add, link_set
from minqing.contacts.urls import manage_patterns as urlpatterns

MISSING = 999_999
#: The routes of ``urls.manage_patterns`` (for the project-wide route coverage test).
ROUTE_NAMES = {f"contacts:{p.name}" for p in urlpatterns}


def _routes(county, owner):
    liaison = liaison_add(
        by=owner,
        node=county.grid_a1,
        kind=LiaisonKind.GROUP_LEADER,
        name="组长",
        phone="13800000001",
    )
    link = link_set(by=owner, household=county.household_a1, liaison=liaison)
    v, h = county.village_a.pk, county.household_a1.pk
    return [
        ("get", "contacts:liaisons", {"node_pk": v}),
        ("get", "contacts:liaison_add", {"node_pk": v}),
        ("post", "contacts:liaison_add", {"node_pk": v}),
        ("get", "contacts:liaison_edit", {"pk": liaison.pk}),
        ("post", "contacts:liaison_edit", {"pk": liaison.pk}),
        ("get", "contacts:liaison_retire", {"pk": liaison.pk}),
        ("post", "contacts:liaison_retire", {"pk": liaison.pk}),
        ("post", "contacts:link_set", {"household_pk": h}),
        ("post", "contacts:link_release", {"pk": link.pk}),
        ("get", "contacts:runs", {"node_pk": v}),
        ("post", "contacts:run_start", {"node_pk": v}),
        ("get", "contacts:rules", {"node_pk": v}),
        ("post", "contacts:rules", {"node_pk": v}),
    ]


FORM = {"kind": "group_leader", "name": "某", "liaison": "1", "capacity": "3"}


def _state():
    return (
        Liaison.objects.filter(active=True).count(),
        ContactLink.objects.filter(ended_at=None, manual=True).count(),
        AssignmentRun.objects.count(),
        AuditEvent.objects.count(),
    )


def test_every_route_is_in_this_test(county, owner):
    assert {name for _m, name, _k in _routes(county, owner)} == ROUTE_NAMES


@pytest.mark.parametrize("who", ["anonymous", "outsider"])
def test_outside_the_jurisdiction_every_route_answers_like_a_missing_object(
    client, county, owner, outsider, who
):
    routes = _routes(county, owner)
    if who == "outsider":
        client.force_login(outsider)
    before = _state()
    for method, name, kwargs in routes:
        url = reverse(name, kwargs=kwargs)
        missing = reverse(name, kwargs={k: MISSING for k in kwargs})
        answer = getattr(client, method)(url, FORM)
        if who == "anonymous":
            assert answer.status_code == 302 and "/login" in answer["Location"], name
            continue
        assert answer.status_code == 404, name
        assert getattr(client, method)(missing, FORM).status_code == 404, name
    assert _state() == before
