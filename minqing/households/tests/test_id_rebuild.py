"""A masked ID number must not be rebuildable from what is shown beside it.

The attacker is a party member of the village with no reveal right. They take the household
page, the API answer and the masked ledger export, and count the ID numbers consistent with
everything shown together: the visible digits, the birth date, year or age, the sex (the order
code's parity), the check character, and — stricter than the list of existing region codes —
the region digits of the village's own county, which a reader guesses from the address. Fewer
than ``MIN_ID_CANDIDATES`` numbers left is a rebuilt ID (the old mask, with the birth date beside
it, left one).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import pytest
from django.urls import reverse

from minqing.accounts.models import Role
from minqing.conftest import make_user
from minqing.households.models import Resident
from minqing.lib.idcard import check_digit
from minqing.lib.masking import MIN_ID_CANDIDATES

#: GB/T 2260 codes under prefecture 3416 (亳州市): 谯城区, 涡阳县, 蒙城县, 利辛县. The attacker
#: is granted the village's own county (341602), so only one of them is counted.
COUNTY_REGION = "341602"
TODAY = dt.date(2026, 12, 2)


def _dates_shown(text: str, born: dt.date) -> list[dt.date]:
    """The birth dates an attacker cannot tell apart after reading ``text``."""
    for form in (
        f"{born:%Y-%m-%d}",
        f"{born:%Y/%m/%d}",
        f"{born.year}年{born.month}月{born.day}日",
        f"{born:%Y%m%d}",
        f"{born.year}-{born.month}-{born.day}",
    ):
        if form in text:
            return [born]
    if re.search(rf"(?<!\d){born.year}(?!\d)", text):
        first = dt.date(born.year, 1, 1)
        return [
            first + dt.timedelta(days=n) for n in range((dt.date(born.year + 1, 1, 1) - first).days)
        ]
    age = TODAY.year - born.year - ((TODAY.month, TODAY.day) < (born.month, born.day))
    if re.search(rf"(?<!\d){age}\s*(years|岁|周岁)", text):
        latest = TODAY.replace(year=TODAY.year - age)
        return [latest - dt.timedelta(days=n) for n in range(365)]
    first = dt.date(1900, 1, 1)
    return [first + dt.timedelta(days=n) for n in range((TODAY - first).days)]


def _mask_shown(text: str, id_number: str) -> str:
    """The most revealing masked form of ``id_number`` in ``text`` (all stars if none)."""
    best = "*" * 18
    for token in re.findall(r"[0-9X*]{18}", text):
        if all(t in ("*", c) for t, c in zip(token, id_number, strict=True)):
            if token.count("*") < best.count("*"):
                best = token
    return best


def candidates(masked: str, dates: list[dt.date], sex: str, limit: int) -> int:
    """ID numbers consistent with ``masked``, the birth ``dates``, the sex and the check
    character, in the county's region; counting stops at ``limit``."""
    known = {i: c for i, c in enumerate(masked) if c != "*"}
    if any(COUNTY_REGION[i] != known[i] for i in range(6) if i in known):
        return 0
    count = 0
    for born in dates:
        digits = f"{born:%Y%m%d}"
        if any(digits[i - 6] != known[i] for i in range(6, 14) if i in known):
            continue
        for order in range(1000):
            code = f"{order:03d}"
            if any(code[i - 14] != known[i] for i in range(14, 17) if i in known):
                continue
            if sex and (int(code[2]) % 2 == 1) != (sex == "M"):
                continue
            if 17 in known and check_digit(COUNTY_REGION + digits + code) != known[17]:
                continue
            count += 1
            if count >= limit:
                return count
    return count


def _left(text: str, resident) -> int:
    id_number = resident.id_number.reveal()
    return candidates(
        _mask_shown(text, id_number),
        _dates_shown(text.replace(id_number, ""), resident.birth_date),
        resident.sex,
        MIN_ID_CANDIDATES,
    )


@pytest.fixture
def party(county):
    return make_user("party", Role.PARTY_MEMBER, county.village_a)


@pytest.fixture
def _today(time_machine):
    time_machine.move_to(dt.datetime(2026, 12, 2, 10, tzinfo=dt.UTC), tick=False)


def test_the_household_page_leaves_at_least_ten_thousand_id_numbers(client, county, party, _today):
    client.force_login(party)
    page = client.get(reverse("households:detail", kwargs={"pk": county.household_a1.pk}))
    assert page.status_code == 200
    text = page.content.decode()
    assert _left(text, county.resident_a1) >= MIN_ID_CANDIDATES
    assert str(county.resident_a1.birth_date.year) in text  # the year is what is shown


def test_the_api_answer_leaves_at_least_ten_thousand_id_numbers(client, county, party, _today):
    client.force_login(party)
    answer = client.get(reverse("api:household", kwargs={"pk": county.household_a1.pk}))
    assert answer.status_code == 200
    body = answer.json()
    assert _left(json.dumps(body, ensure_ascii=False), county.resident_a1) >= MIN_ID_CANDIDATES
    member = next(m for m in body["members"] if m["id"] == county.resident_a1.pk)
    assert "birth_date" not in member
    assert member["birth_year"] == county.resident_a1.birth_date.year


def test_the_masked_export_leaves_at_least_ten_thousand_id_numbers(client, county, party, _today):
    from openpyxl import load_workbook

    client.force_login(party)
    response = client.get(
        reverse("ledger:export", kwargs={"node_pk": county.village_a.pk}) + "?format=xlsx"
    )
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)["台账"]
    rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    header = rows[0]
    row = next(r for r in rows[1:] if r[header.index("姓名")] == county.resident_a1.name)
    assert _left("  ".join(row), county.resident_a1) >= MIN_ID_CANDIDATES
    assert row[header.index("出生日期")] == f"{county.resident_a1.birth_date.year}-**-**"
    # Every member of the village, each against the whole file.
    whole = "\n".join("  ".join(r) for r in rows)
    for resident in Resident.objects.filter(household__village=county.village_a):
        assert _left(whole, resident) >= MIN_ID_CANDIDATES, resident.name


def test_the_counter_rebuilds_a_number_from_the_old_mask_and_the_birth_date(county):
    """The attack as it worked on the old mask: 3416**********0119 beside 1970-03-12."""
    resident = county.resident_a1
    value = resident.id_number.reveal()
    old_mask = value[:4] + "*" * 10 + value[-4:]
    text = f"{old_mask} {resident.birth_date:%Y-%m-%d}"
    assert candidates(old_mask, _dates_shown(text, resident.birth_date), resident.sex, 10) == 1
    # With only the age beside it, the old mask still left a few dozen numbers.
    assert _left(f"{old_mask} 56 years", resident) < 200
