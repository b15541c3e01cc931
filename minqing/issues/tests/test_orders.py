"""Residents' orders (点单-派单-接单): offered by the dispatcher, taken by one co-building unit,
handled and closed like any issue; a second unit cannot take a taken order."""

from __future__ import annotations

import pytest

from minqing.conftest import make_user
from minqing.issues.models import Status
from minqing.issues.services import (
    issue_accept,
    issue_offer,
    issue_register,
    issue_resolve,
    issue_take,
)
from minqing.lib.errors import PermissionDenied
from minqing.org.models import Department


@pytest.fixture
def order(county, member, irrigation):
    return issue_register(
        by=member,
        node=county.grid_a1,
        category=irrigation,
        description="独居老人家的水管冻裂了，想请人来修",
        colour="yellow",
        source="resident",
        reporter_name="王秀英",
        reporter_phone="13912345678",
    )


def test_an_offered_order_is_taken_by_one_co_building_unit(
    county, town, shop, departments, order, clock, writes
):
    other_unit = Department.objects.create(
        county=county.county, name="供水公司志愿队", kind=Department.Kind.CO_BUILDING
    )
    rival = make_user("rival", "co_building_unit", department=other_unit)
    issue_offer(by=town, issue=order)
    order.refresh_from_db()
    assert (order.status, order.offered, order.owner_node, order.owner_department) == (
        Status.DISPATCHED,
        True,
        None,
        None,
    )
    before = writes()
    with pytest.raises(PermissionDenied):
        issue_accept(by=town, issue=order)  # offered to the units, not the town's to accept
    assert writes() == before
    issue_take(by=shop, issue=order)
    order.refresh_from_db()
    assert (order.status, order.owner_department, order.responsible) == (
        Status.ACCEPTED,
        departments.charity,
        shop,
    )
    before = writes()
    with pytest.raises(Exception, match="cannot be taken"):
        issue_take(by=rival, issue=order)
    assert writes() == before
    reporter = order.reporters.get()
    issue_resolve(by=shop, issue=order, resolution="换了水管", replies={reporter.pk: "已修好"})
    order.refresh_from_db()
    assert order.status == Status.RESOLVED


def test_only_co_building_units_take_orders(county, town, water, order, clock, writes):
    issue_offer(by=town, issue=order)
    before = writes()
    with pytest.raises(PermissionDenied):
        issue_take(by=water, issue=order)
    assert writes() == before
    order.refresh_from_db()
    assert order.owner_department is None and order.offered
