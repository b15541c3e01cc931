"""The contact ledger (包保联系台账): rows and filters, the Excel file masked and unmasked, and
scope on every page of the ledger, the coverage report and the cards."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from minqing.accounts.models import Role
from minqing.audit.models import AuditEvent
from minqing.conftest import make_user
from minqing.contacts.ledger_sheet import headers
from minqing.contacts.models import ContactLink, Liaison, LiaisonKind
from minqing.contacts.selectors import kind_rules
from minqing.contacts.services import liaison_add, liaison_retire, link_set, rules_for
from minqing.households.models import Household

GL = LiaisonKind.GROUP_LEADER
PM = LiaisonKind.PARTY_MEMBER


@dataclass
class Network:
    """王庄村: 一组 A001 A003 A004 A005, 二组 A002 A006 A007; 李集村: B001.

    Group leaders: 一组's (13800001111) has all of 一组, 二组's (13800002222) A002 and A006.
    Party members: 一组's (13900003333) has A001, A003, A002; 二组's had A006 and retired.
    Missing: A007 a group leader; A004, A005, A006, A007 a party member.
    """

    households: dict[str, Household]
    leader_1: Liaison
    leader_2: Liaison
    member_1: Liaison
    member_2: Liaison


def build_network(county, cadre) -> Network:
    rules_for(county.county)
    v = county.village_a
    households = {"A001": county.household_a1, "A002": county.household_a2}
    for number, grid in (
        ("A003", county.grid_a1),
        ("A004", county.grid_a1),
        ("A005", county.grid_a1),
        ("A006", county.grid_a2),
        ("A007", county.grid_a2),
    ):
        households[number] = Household.objects.create(
            node=grid, village=v, number=number, head_name=f"户主{number}"
        )

    def person(grid, kind, name, phone):
        return liaison_add(by=cadre, node=grid, kind=kind, name=name, phone=phone)

    leader_1 = person(county.grid_a1, GL, "张组长", "13800001111")
    leader_2 = person(county.grid_a2, GL, "李组长", "13800002222")
    member_1 = person(county.grid_a1, PM, "赵党员", "13900003333")
    member_2 = person(county.grid_a2, PM, "钱党员", "13900004444")
    for number in ("A001", "A003", "A004", "A005"):
        link_set(by=cadre, household=households[number], liaison=leader_1)
    for number in ("A002", "A006"):
        link_set(by=cadre, household=households[number], liaison=leader_2)
    for number in ("A001", "A003", "A002"):
        link_set(by=cadre, household=households[number], liaison=member_1)
    # An engine link (not by hand) stays after its liaison retires, until the next run.
    ContactLink.objects.create(household=households["A006"], liaison=member_2, kind=PM)
    liaison_retire(by=cadre, liaison=member_2)
    return Network(households, leader_1, leader_2, member_1, member_2)


@pytest.fixture
def network(county, owner):
    return build_network(county, owner)


def ledger_url(node, **query) -> str:
    url = reverse("contacts:ledger", kwargs={"node_pk": node.pk})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def numbers(response) -> list[str]:
    assert response.status_code == 200, response.status_code
    return [row.number for row in response.context["rows"]]


def test_ledger_lists_each_household_with_its_people_and_masked_phones(
    client, county, owner, network
):
    client.force_login(owner)
    response = client.get(ledger_url(county.village_a))
    assert numbers(response) == ["A001", "A002", "A003", "A004", "A005", "A006", "A007"]
    rows = {row.number: row for row in response.context["rows"]}
    assert [(c.kind, c.name, str(c.phone), c.missing) for c in rows["A001"].cells] == [
        (GL, "张组长", "138****1111", False),
        (PM, "赵党员", "139****3333", False),
    ]
    assert rows["A001"].head_name == "王建国" and rows["A001"].place == "一组"
    retired = rows["A006"].cells[1]
    assert (retired.name, retired.retired, retired.missing) == ("钱党员", True, True)
    assert [(c.name, c.missing) for c in rows["A007"].cells] == [("", True), ("", True)]
    body = response.content.decode()
    assert "138****1111" in body
    for phone in ("13800001111", "13800002222", "13900003333", "13812345678"):
        assert phone not in body


def test_ledger_filters_by_grid_and_by_missing_kind(client, county, owner, network, county_user):
    client.force_login(owner)
    assert numbers(client.get(ledger_url(county.village_a, grid=county.grid_a2.pk))) == [
        "A002",
        "A006",
        "A007",
    ]
    assert numbers(client.get(ledger_url(county.village_a, missing="any"))) == [
        "A004",
        "A005",
        "A006",
        "A007",
    ]
    assert numbers(client.get(ledger_url(county.village_a, missing=GL))) == ["A007"]
    assert numbers(
        client.get(ledger_url(county.village_a, missing=PM, grid=county.grid_a1.pk))
    ) == ["A004", "A005"]
    # A grid of another village, or an unknown kind, is ignored rather than trusted.
    assert len(numbers(client.get(ledger_url(county.village_a, grid=county.grid_b1.pk)))) == 7
    assert len(numbers(client.get(ledger_url(county.village_a, missing="nonsense")))) == 7
    # The county's ledger goes village by village; the village cadre may not open it.
    assert client.get(ledger_url(county.county)).status_code == 404
    client.force_login(county_user)
    assert numbers(client.get(ledger_url(county.county, missing=GL))) == ["A007", "B001"]


def test_ledger_pages_by_fifty_in_a_fixed_number_of_queries(
    client, county, owner, network, django_assert_max_num_queries
):
    for i in range(50):
        Household.objects.create(
            node=county.grid_a1, village=county.village_a, number=f"C{i:03d}", head_name="某"
        )
    client.force_login(owner)
    first = client.get(ledger_url(county.village_a))
    assert len(numbers(first)) == 50
    assert first.context["page"].paginator.num_pages == 2
    second = client.get(ledger_url(county.village_a, page=2))
    assert numbers(second) == ["C043", "C044", "C045", "C046", "C047", "C048", "C049"]
    with django_assert_max_num_queries(25):
        client.get(ledger_url(county.village_a))


def xlsx(response):
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert workbook.sheetnames == ["包保联系台账"]
    return [list(row) for row in workbook.active.iter_rows(values_only=True)]


def test_xlsx_is_masked_by_default_and_says_where_when_and_who(client, county, owner, network):
    client.force_login(owner)
    rows = xlsx(
        client.get(reverse("contacts:ledger_xlsx", kwargs={"node_pk": county.village_a.pk}))
    )
    assert rows[0][0] == "包保联系台账  谯城区/古井镇/王庄村"
    assert "导出人：owner" in rows[1][0] and "电话已脱敏" in rows[1][0]
    assert "共 7 户" in rows[1][0]
    assert rows[2] == headers(kind_rules(county.village_a))
    assert rows[2] == [
        "村/社区",
        "组/网格",
        "户编号",
        "户主",
        "重点户标签",
        "居民组长",
        "居民组长电话",
        "联户党员",
        "联户党员电话",
        "缺少",
    ]
    body = {row[2]: row for row in rows[3:]}
    assert list(body) == ["A001", "A002", "A003", "A004", "A005", "A006", "A007"]
    assert body["A001"] == [
        "王庄村",
        "一组",
        "A001",
        "王建国",
        None,
        "张组长",
        "138****1111",
        "赵党员",
        "139****3333",
        None,
    ]
    assert body["A006"][7:] == ["钱党员（已退出）", "139****4444", "联户党员"]
    assert body["A007"][5:] == [None, None, None, None, "居民组长、联户党员"]
    assert not any("13800001111" in str(v) for row in rows for v in row)
    events = list(
        AuditEvent.objects.filter(action="contacts.ledger_export").values_list("username", "detail")
    )
    assert events == [("owner", {"masked": True, "households": 7, "place": None, "missing": ""})]


def test_xlsx_keeps_the_page_filters(client, county, owner, network):
    client.force_login(owner)
    url = reverse("contacts:ledger_xlsx", kwargs={"node_pk": county.village_a.pk})
    rows = xlsx(client.get(url + f"?grid={county.grid_a2.pk}&missing={PM}"))
    assert [row[2] for row in rows[3:]] == ["A006", "A007"]
    assert rows[0][0] == "包保联系台账  谯城区/古井镇/王庄村/二组  （仅列缺少联系人的户：联户党员）"


def test_unmasked_xlsx_needs_the_reveal_role_asks_first_and_is_audited(
    client, county, owner, network
):
    client.force_login(owner)
    url = reverse("contacts:ledger_xlsx", kwargs={"node_pk": county.village_a.pk})
    ask = client.get(url + "?unmasked=1")
    assert ask.status_code == 200
    assert "Export full phone numbers" in ask.content.decode()
    assert not AuditEvent.objects.filter(action="contacts.ledger_export").exists()

    rows = xlsx(client.post(url, {"unmasked": "1"}))
    body = {row[2]: row for row in rows[3:]}
    assert body["A001"][5:9] == ["张组长", "13800001111", "赵党员", "13900003333"]
    assert "电话未脱敏" in rows[1][0]
    event = AuditEvent.objects.get(action="contacts.ledger_export")
    assert (event.username, event.detail["masked"], event.detail["households"]) == (
        "owner",
        False,
        7,
    )
    assert event.object_id == str(county.village_a.pk)


def test_unmasked_xlsx_without_the_reveal_role_is_refused_and_writes_nothing(
    client, county, network
):
    party_member = make_user("pm_user", Role.PARTY_MEMBER, county.village_a)
    client.force_login(party_member)
    url = reverse("contacts:ledger_xlsx", kwargs={"node_pk": county.village_a.pk})
    assert client.get(url + "?unmasked=1").status_code == 403
    assert client.post(url, {"unmasked": "1"}).status_code == 403
    assert not AuditEvent.objects.filter(action="contacts.ledger_export").exists()
    # The masked ledger is theirs to read.
    assert xlsx(client.get(url))[3][6] == "138****1111"


def _routes(county, network):
    v, h = county.village_a, network.households["A001"]
    return [
        ("get", "contacts:ledger", v, ""),
        ("get", "contacts:ledger_xlsx", v, ""),
        ("get", "contacts:ledger_xlsx", v, "?unmasked=1"),
        ("post", "contacts:ledger_xlsx", v, ""),
        ("get", "contacts:coverage", v, ""),
        ("get", "contacts:cards", v, ""),
        ("get", "contacts:cards", v, f"?household={h.pk}"),
        ("get", "contacts:cards_pdf", v, ""),
        ("get", "contacts:cards_pdf", v, f"?household={h.pk}"),
    ]


def test_outsiders_get_404_like_a_missing_place_on_every_page(client, county, network, outsider):
    client.force_login(outsider)
    before = AuditEvent.objects.count()
    for method, name, node, query in _routes(county, network):
        url = reverse(name, kwargs={"node_pk": node.pk}) + query
        missing = reverse(name, kwargs={"node_pk": 999_999}) + query
        response = getattr(client, method)(url, {"unmasked": "1"} if method == "post" else None)
        absent = getattr(client, method)(missing, {"unmasked": "1"} if method == "post" else None)
        assert response.status_code == 404, (name, query, response.status_code)
        assert absent.status_code == 404, (name, query)
        assert response.content == absent.content, (name, query)
    assert AuditEvent.objects.count() == before


def test_grid_worker_reaches_own_grid_only(client, county, network, member):
    client.force_login(member)
    grid = county.grid_a1
    assert numbers(client.get(ledger_url(grid))) == ["A001", "A003", "A004", "A005"]
    assert client.get(reverse("contacts:coverage", kwargs={"node_pk": grid.pk})).status_code == 200
    assert client.get(ledger_url(county.village_a)).status_code == 404
    other = network.households["A002"]  # 二组: not theirs, even named through their own grid
    before = AuditEvent.objects.count()
    for name in ("contacts:cards", "contacts:cards_pdf"):
        cards = reverse(name, kwargs={"node_pk": grid.pk})
        assert client.get(cards + f"?household={other.pk}").status_code == 404
        assert client.get(cards + "?household=x").status_code == 404
    xlsx = reverse("contacts:ledger_xlsx", args=[county.village_a.pk])
    assert client.get(xlsx).status_code == 404
    assert AuditEvent.objects.count() == before


def test_owner_reaches_every_page_of_own_village(client, county, owner, network):
    client.force_login(owner)
    for method, name, node, query in _routes(county, network):
        if method == "get" and "unmasked" not in query:
            url = reverse(name, kwargs={"node_pk": node.pk}) + query
            assert client.get(url).status_code == 200, name


def test_node_page_links_to_the_ledger_coverage_and_cards(client, county, owner, network):
    client.force_login(owner)
    page = client.get(reverse("org:node", kwargs={"pk": county.village_a.pk})).content.decode()
    for name in ("contacts:ledger", "contacts:coverage", "contacts:cards"):
        assert reverse(name, kwargs={"node_pk": county.village_a.pk}) in page
