"""Every refusal of the contact-network services carries a code (``contacts.*`` or a generic
one), and the codes are known to the API schema."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from minqing.accounts.models import Role
from minqing.audit.models import AuditEvent
from minqing.conftest import make_user
from minqing.contacts.errors import ContactErrorCode
from minqing.contacts.models import ContactLink, Liaison, LiaisonKind
from minqing.contacts.services import (
    liaison_add,
    liaison_retire,
    link_release,
    link_set,
    rules_for,
    rules_save,
)
from minqing.lib.errors import all_codes

GL = LiaisonKind.GROUP_LEADER


def _codes(exc: ValidationError) -> dict[str, list[str | None]]:
    if hasattr(exc, "error_dict"):
        return {f: [e.code for e in errors] for f, errors in exc.error_dict.items()}
    return {"__all__": [e.code for e in exc.error_list]}


def test_the_codes_are_registered():
    assert {code.value for code in ContactErrorCode} <= set(all_codes())
    assert all(code.value.startswith("contacts.") for code in ContactErrorCode)


def test_a_liaisons_details_are_refused_field_by_field_with_codes(county, owner):
    with pytest.raises(ValidationError) as info:
        liaison_add(by=owner, node=county.grid_a1, kind="boss", category="x", capacity=0)
    codes = _codes(info.value)
    assert codes == {
        "kind": [ContactErrorCode.KIND_UNKNOWN],
        "category": [ContactErrorCode.CATEGORY_UNKNOWN],
        "capacity": [ContactErrorCode.CAPACITY_RANGE],
        "name": ["required"],
    }
    assert not Liaison.objects.exists()


def test_refusals_of_retiring_and_releasing_twice_have_codes(county, owner):
    leader = liaison_add(by=owner, node=county.grid_a1, kind=GL, name="甲", phone="")
    link = link_set(by=owner, household=county.household_a1, liaison=leader)
    link_release(by=owner, link=link)
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as info:
        link_release(by=owner, link=link)
    assert _codes(info.value) == {"__all__": [ContactErrorCode.LINK_NOT_MANUAL]}
    liaison_retire(by=owner, liaison=leader)
    with pytest.raises(ValidationError) as info:
        liaison_retire(by=owner, liaison=leader)
    assert _codes(info.value) == {"__all__": [ContactErrorCode.ALREADY_RETIRED]}
    with pytest.raises(ValidationError) as info:
        link_set(by=owner, household=county.household_a2, liaison=leader)
    assert _codes(info.value) == {"liaison": [ContactErrorCode.LIAISON_RETIRED]}
    assert AuditEvent.objects.count() == events + 1  # the one retirement
    assert ContactLink.objects.current().filter(manual=True).count() == 0


def test_rules_are_refused_with_codes(county):
    cc = make_user("cc", Role.COMMAND_CENTRE, county.county)
    rules_for(county.county)
    bad = {"min_load": 5, "max_load": 2, "required": True, "active": True}
    match = {"id": None, "kind": GL, "category": "ordinary", "weight": 11, "tags": []}
    with pytest.raises(ValidationError) as info:
        rules_save(by=cc, county=county.county, rules={GL: bad}, matches=[match, match])
    assert _codes(info.value) == {
        "__all__": [
            ContactErrorCode.LOAD_RANGE,
            ContactErrorCode.MATCH_INVALID,
            ContactErrorCode.MATCH_INVALID,
            ContactErrorCode.MATCH_DUPLICATE,
        ]
    }
    assert not AuditEvent.objects.filter(action="contacts.rules_save").exists()
