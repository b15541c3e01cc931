"""What printing needs: an embedded CJK TrueType font (never a font the printer must have), and
a public address residents' phones reach (the card page warns before printing)."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.urls import reverse

from minqing.audit.models import AuditEvent
from minqing.contacts import card_print
from minqing.contacts.card_print import CardFontMissing, card_font, render_pdf, unreachable_host
from minqing.contacts.selectors import Card, card_households, cards, office_phones
from minqing.contacts.tests.test_ledger import build_network

WQY = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
needs_wqy = pytest.mark.skipif(not WQY.is_file(), reason="fonts-wqy-microhei is not installed")
PAGE = re.compile(rb"/Type /Page\b(?!s)")


@pytest.fixture
def network(county, owner):
    return build_network(county, owner)


def page_url(node, **query) -> str:
    url = reverse("contacts:cards", kwargs={"node_pk": node.pk})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def pdf_url(node) -> str:
    return reverse("contacts:cards_pdf", kwargs={"node_pk": node.pk})


@needs_wqy
def test_the_pdf_embeds_its_truetype_cjk_font_and_names_no_other(client, county, owner, network):
    client.force_login(owner)
    response = client.get(pdf_url(county.village_a))
    assert response.status_code == 200
    data = response.content
    fonts = set(re.findall(rb"/BaseFont /([^\s/]+)", data))
    assert fonts == {b"AAAAAA+WenQuanYiMicroHei-0"}
    assert data.count(b"/FontFile2") == 1  # the embedded TrueType subset
    assert b"STSong" not in data and b"Helvetica" not in data
    if pdffonts := shutil.which("pdffonts"):  # poppler-utils, when installed
        listed = subprocess.run(  # noqa: S603 - poppler's reader on a file we made
            [pdffonts, "-"], input=data, capture_output=True, check=True
        ).stdout.decode()
        rows = [line.split() for line in listed.splitlines()[2:]]
        assert [(r[0], r[1], r[3]) for r in rows] == [
            ("AAAAAA+WenQuanYiMicroHei-0", "TrueType", "yes")
        ]


def test_without_a_font_the_page_says_what_to_install_and_no_pdf_is_made(
    client, county, owner, network, monkeypatch, settings
):
    settings.MINQING_CJK_FONT = ""
    monkeypatch.delenv("MINQING_CJK_FONT", raising=False)
    monkeypatch.setattr(card_print, "CJK_FONT_CANDIDATES", ())
    client.force_login(owner)
    page = client.get(page_url(county.village_a))
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="font-missing"' in text
    assert "apt-get install fonts-wqy-microhei" in text
    assert pdf_url(county.village_a) not in text  # no print button
    response = client.get(pdf_url(county.village_a))
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert "fonts-wqy-microhei" in response.content.decode()
    assert not AuditEvent.objects.filter(action="contacts.cards").exists()


def test_the_message_is_in_chinese_for_chinese_readers(
    client, county, owner, network, monkeypatch, settings
):
    settings.MINQING_CJK_FONT = ""
    monkeypatch.delenv("MINQING_CJK_FONT", raising=False)
    monkeypatch.setattr(card_print, "CJK_FONT_CANDIDATES", ())
    client.force_login(owner)
    client.cookies["django_language"] = "zh-hans"
    text = client.get(page_url(county.village_a), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "本服务器上没有可以嵌入 PDF 的中文字体" in text
    assert "apt-get install fonts-wqy-microhei" in text


def test_a_configured_font_that_is_missing_or_not_truetype_is_named(tmp_path, settings):
    settings.MINQING_CJK_FONT = str(tmp_path / "nowhere.ttf")
    with pytest.raises(CardFontMissing, match="nowhere.ttf"):
        card_font()
    fake = tmp_path / "NotoSansCJK-Regular.otf"
    fake.write_bytes(b"OTTO" + b"\0" * 64)  # an OpenType CFF header: not embeddable
    settings.MINQING_CJK_FONT = str(fake)
    with pytest.raises(CardFontMissing, match="NotoSansCJK-Regular.otf"):
        card_font()
    with pytest.raises(CardFontMissing):
        render_pdf([])


@needs_wqy
def test_the_setting_points_at_the_font_to_use(tmp_path, settings):
    copy = tmp_path / "my-cjk.ttc"
    copy.symlink_to(WQY)
    settings.MINQING_CJK_FONT = str(copy)
    name = card_font()
    assert name.startswith("MinqingCJK-")
    assert card_font() == name  # registered once
    assert render_pdf([]).startswith(b"%PDF-")


@pytest.mark.parametrize(
    ("base_url", "unreachable"),
    [
        ("http://127.0.0.1:8000/", "127.0.0.1"),
        ("http://127.8.9.1/", "127.8.9.1"),
        ("http://localhost:8000/", "localhost"),
        ("http://LOCALHOST./", "localhost"),
        ("http://demo.localhost/", "demo.localhost"),
        ("http://[::1]:8000/", "::1"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
        ("http://0.0.0.0:8000/", "0.0.0.0"),  # noqa: S104 - the address under test
        ("", "(unset)"),
        ("https://minqing.example.gov.cn/", None),
        ("http://192.168.1.20:8000/", None),  # the county's own network: phones on its Wi-Fi
        ("http://10.0.0.5/", None),
    ],
)
def test_unreachable_hosts(base_url, unreachable):
    assert unreachable_host(base_url) == unreachable


def test_the_card_page_warns_when_residents_cannot_reach_the_public_url(
    client, county, owner, network, settings, monkeypatch
):
    monkeypatch.delenv("MINQING_PUBLIC_URL", raising=False)
    client.force_login(owner)
    settings.MINQING_PUBLIC_URL = "http://127.0.0.1:8000"
    page = client.get(page_url(county.village_a))
    assert page.status_code == 200
    assert page.context["count"] == 7
    assert page.context["unreachable"] == "127.0.0.1"
    assert 'id="unreachable"' in page.content.decode()
    # Unset: the request host decides; a cadre on the server itself (localhost) is warned.
    settings.MINQING_PUBLIC_URL = ""
    page = client.get(page_url(county.village_a), HTTP_HOST="localhost")
    assert page.context["unreachable"] == "localhost"
    assert page.context["base_url"] == "http://localhost/"
    settings.MINQING_PUBLIC_URL = "https://minqing.example.gov.cn"
    page = client.get(page_url(county.village_a))
    assert page.context["unreachable"] is None
    assert 'id="unreachable"' not in page.content.decode()
    # The page itself prints nothing and records nothing.
    assert not AuditEvent.objects.filter(action="contacts.cards").exists()


def test_the_environment_variable_sets_the_public_url(
    client, county, owner, network, settings, monkeypatch
):
    settings.MINQING_PUBLIC_URL = ""
    monkeypatch.setenv("MINQING_PUBLIC_URL", "https://mq.example.cn/")
    client.force_login(owner)
    page = client.get(page_url(county.village_a))
    assert page.context["base_url"] == "https://mq.example.cn/"
    assert page.context["unreachable"] is None


def test_one_household_page_counts_one_card(client, county, owner, network):
    client.force_login(owner)
    household = network.households["A003"]
    page = client.get(page_url(county.village_a, household=household.pk))
    assert page.context["count"] == 1
    assert f"{pdf_url(county.village_a)}?household={household.pk}" in page.content.decode()


def test_the_card_holds_the_liaisons_phones_and_none_of_the_households_data(county, network):
    made = {c.number: c for c in cards(card_households(county.village_a), base_url="https://x/")}
    first = made["A001"]
    values = " ".join(str(v) for v in dataclasses.asdict(first).values())
    assert "13800001111" in values and "13900003333" in values  # the liaisons'
    assert "13812345678" not in values  # the household's own phone
    assert first.office_phone == ""  # the village archive has no office phone yet
    assert office_phones({county.village_a.pk}) == {}


@needs_wqy
def test_a_card_with_an_office_phone_still_fits_one_page():
    card = Card(
        1, "王庄村", "一组", "A001", "王建国", "https://x/r/t/", office_phone="0558-5123456"
    )
    assert len(PAGE.findall(render_pdf([card]))) == 1
