"""The refusal tests' ``nothing_written`` fails on every kind of write, and only on those."""

from __future__ import annotations

import pytest

from minqing.audit.services import audit_record
from minqing.org.models import Node
from minqing.tests.dbstate import nothing_written


def test_a_block_that_writes_nothing_passes(county):
    with nothing_written():
        list(Node.objects.all())


def test_an_added_row_fails_and_names_its_table(county):
    with pytest.raises(AssertionError, match=r"audit\.auditevent.*'added': 1"):
        with nothing_written():
            audit_record(action="test.write")


def test_a_changed_row_fails(county):
    with pytest.raises(AssertionError, match=r"org\.node.*'changed': 1"):
        with nothing_written():
            Node.objects.filter(pk=county.grid_a1.pk).update(name="改名")


def test_a_removed_row_fails(county, owner):
    with pytest.raises(AssertionError, match=r"accounts\.roleassignment.*'removed': 1"):
        with nothing_written():
            owner.roles.all().delete()


def test_allow_expects_exactly_that_many_new_rows(county):
    with nothing_written(allow={"audit.auditevent": 1}):
        audit_record(action="test.write")
    with pytest.raises(AssertionError, match="expected"):
        with nothing_written(allow={"audit.auditevent": 1}):
            pass
    with pytest.raises(AssertionError, match="'added': 2"):
        with nothing_written(allow={"audit.auditevent": 1}):
            audit_record(action="test.write")
            audit_record(action="test.write")
