"""Contact cards (联系卡): one A6 PDF page per household, the liaisons' phones in full, and a QR
code whose signed token leads back to the household."""

from __future__ import annotations

import re

import pytest
from django.core import signing
from django.urls import reverse

from minqing.accounts.models import Role
from minqing.audit.models import AuditEvent
from minqing.conftest import make_user
from minqing.contacts.card_print import render_pdf
from minqing.contacts.models import LiaisonKind
from minqing.contacts.selectors import (
    CARD_SALT,
    card_households,
    card_token,
    cards,
    household_for_token,
)
from minqing.contacts.tests.test_ledger import build_network
from minqing.lib.qr import qr_codewords, qr_modules, qr_symbols

PAGE = re.compile(rb"/Type /Page\b(?!s)")


@pytest.fixture
def network(county, owner):
    return build_network(county, owner)


def pdf(response) -> bytes:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "application/pdf"
    data = response.content
    assert data.startswith(b"%PDF-")
    return data


def test_village_cards_have_one_page_per_household_and_are_audited(client, county, owner, network):
    client.force_login(owner)
    data = pdf(client.get(reverse("contacts:cards_pdf", kwargs={"node_pk": county.village_a.pk})))
    assert len(PAGE.findall(data)) == 7
    grid = pdf(client.get(reverse("contacts:cards_pdf", kwargs={"node_pk": county.grid_a2.pk})))
    assert len(PAGE.findall(grid)) == 3
    events = list(
        AuditEvent.objects.filter(action="contacts.cards").values_list(
            "username", "object_id", "detail"
        )
    )
    assert events == [
        ("owner", str(county.village_a.pk), {"node": county.village_a.pk, "households": 7}),
        ("owner", str(county.grid_a2.pk), {"node": county.grid_a2.pk, "households": 3}),
    ]


def test_one_household_card(client, county, owner, network):
    client.force_login(owner)
    household = network.households["A003"]
    url = reverse("contacts:cards_pdf", kwargs={"node_pk": county.village_a.pk})
    data = pdf(client.get(url + f"?household={household.pk}"))
    assert len(PAGE.findall(data)) == 1
    event = AuditEvent.objects.get(action="contacts.cards")
    assert (event.object_type, event.object_id) == ("households.household", str(household.pk))
    # A household of another village, named through this village, is not found.
    other = client.get(url + f"?household={county.household_b1.pk}")
    assert other.status_code == 404
    assert AuditEvent.objects.filter(action="contacts.cards").count() == 1  # the first only


def test_cards_name_the_people_with_full_phones_and_carry_a_token_to_the_household(county, network):
    made = list(cards(card_households(county.village_a), base_url="https://mq.example.cn/"))
    assert [c.number for c in made] == ["A001", "A002", "A003", "A004", "A005", "A006", "A007"]
    first = made[0]
    assert (first.village, first.place, first.head_name) == ("王庄村", "一组", "王建国")
    assert [(p.kind, p.word, p.name, p.phone) for p in first.people] == [
        (LiaisonKind.GROUP_LEADER, "居民组长", "张组长", "13800001111"),
        (LiaisonKind.PARTY_MEMBER, "联户党员", "赵党员", "13900003333"),
    ]
    # The retired party member is not on A006's card; A007 has nobody yet.
    by_number = {c.number: c for c in made}
    assert [p.name for p in by_number["A006"].people] == ["李组长"]
    assert by_number["A007"].people == []
    for card in made:
        prefix = "https://mq.example.cn/r/"
        assert card.url.startswith(prefix) and card.url.endswith("/")
        token = card.url[len(prefix) : -1]
        assert household_for_token(token).pk == card.household_id
    assert len(PAGE.findall(render_pdf(made))) == 7


def test_tokens_are_signed_for_cards_only(county):
    household = county.household_a1
    token = card_token(household.pk)
    assert household_for_token(token) == household
    assert household_for_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert household_for_token(signing.dumps(household.pk, salt="other")) is None
    assert household_for_token(signing.dumps("1", salt=CARD_SALT)) is None
    assert household_for_token(signing.dumps(999_999, salt=CARD_SALT)) is None
    assert household_for_token("") is None


def test_printing_full_phones_needs_the_reveal_role(client, county, network):
    party_member = make_user("pm_user", Role.PARTY_MEMBER, county.village_a)
    client.force_login(party_member)
    for name in ("contacts:cards", "contacts:cards_pdf"):
        response = client.get(reverse(name, kwargs={"node_pk": county.village_a.pk}))
        assert response.status_code == 403, name
    assert not AuditEvent.objects.filter(action="contacts.cards").exists()
    ledger = client.get(reverse("contacts:ledger", kwargs={"node_pk": county.village_a.pk}))
    assert f"/places/{county.village_a.pk}/cards" not in ledger.content.decode()


def test_cards_are_printed_per_village_or_grid_not_for_a_town(client, county, county_user):
    client.force_login(county_user)
    for name in ("contacts:cards", "contacts:cards_pdf"):
        response = client.get(reverse(name, kwargs={"node_pk": county.town_a.pk}))
        assert response.status_code == 400, name
    assert not AuditEvent.objects.filter(action="contacts.cards").exists()


def test_qr_leads_to_the_public_page_of_this_request_host(client, county, network):
    """Without MINQING_PUBLIC_URL the cards point at the host the cadre printed them from."""
    made = next(cards(card_households(county.grid_a1), base_url="http://testserver/"))
    response = client.get(made.url.removeprefix("http://testserver"))
    assert response.status_code == 200
    assert "王**" in response.content.decode()


@pytest.mark.parametrize(
    "text",
    [
        "https://minqing.example.gov.cn/r/" + card_token(123_456) + "/",
        "http://testserver/r/" + card_token(7) + "/",
        "x",
        "https://minqing.example.gov.cn/r/" + "A" * 180 + "/",  # version 7+: version blocks
    ],
)
def test_qr_symbols_are_reportlabs_own_for_every_mask(text):
    from reportlab.graphics.barcode.qrencoder import QRCode, QRErrorCorrectLevel

    code = QRCode(None, QRErrorCorrectLevel.M)
    code.addData(text)
    code.version = code.calculate_version()
    assert qr_codewords(code.version, code.errorCorrectLevel, code.dataList) == (
        QRCode.createData(code.version, code.errorCorrectLevel, code.dataList)
    )
    symbols = qr_symbols(text)
    for mask in range(8):
        code.makeImpl(False, mask)
        assert symbols[mask].tolist() == code.modules, mask
    assert qr_modules(text) in symbols.tolist()
