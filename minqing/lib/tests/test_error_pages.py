"""404, 403 and 500 pages: in Chinese, with the site's navigation, for logged-out readers too;
the 500 page reads nothing from the database. The favicon is there, also as /favicon.ico."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from django.utils.functional import SimpleLazyObject

from minqing.lib.views import permission_denied, server_error

ZH = {"accept-language": "zh-hans"}


@pytest.fixture
def chinese(settings):
    settings.LANGUAGE_CODE = "zh-hans"
    with translation.override("zh-hans"):
        yield


def test_404_for_a_logged_out_reader_is_chinese_with_the_navigation(client, chinese, db):
    response = client.get("/no-such-page/", headers=ZH)
    assert response.status_code == 404
    body = response.content.decode()
    assert '<html lang="zh-hans">' in body
    assert "<h1>页面不存在</h1>" in body
    assert 'class="topbar"' in body and f'href="{reverse("org:home")}"' in body
    assert f'href="{reverse("accounts:login")}"' in body  # a way in
    assert 'class="topsearch"' not in body  # no search for the logged-out


def test_404_for_a_logged_in_reader_keeps_their_navigation(client, chinese, county, owner):
    client.force_login(owner)
    response = client.get(reverse("households:detail", kwargs={"pk": 999_999}), headers=ZH)
    assert response.status_code == 404
    body = response.content.decode()
    assert "<h1>页面不存在</h1>" in body
    assert 'class="topsearch"' in body and "owner" in body  # search, the account's name


def test_english_on_request(client, db):
    response = client.get("/no-such-page/", headers={"accept-language": "en"})
    assert "<h1>Page not found</h1>" in response.content.decode()


def test_403_handler_says_why_in_chinese(chinese, county, owner):
    request = RequestFactory().get("/")
    request.user = owner
    response = permission_denied(request, PermissionDenied("只有审计员可以查看。"))
    assert response.status_code == 403
    body = response.content.decode()
    assert "<h1>无权操作</h1>" in body and "只有审计员可以查看。" in body


def test_403_of_a_refused_page_is_chinese(client, chinese, county, owner):
    client.force_login(owner)
    response = client.get(reverse("audit:log"), headers=ZH)
    assert response.status_code == 403
    body = response.content.decode()
    assert "审计日志仅限审计员查看。" in body
    assert 'class="topbar"' in body


def test_500_reads_nothing_from_the_database(chinese, monkeypatch):
    def no_database(self):
        raise AssertionError("the 500 page touched the database")

    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", no_database)
    request = RequestFactory().get("/")
    request.user = SimpleLazyObject(lambda: no_database(None))
    request.session = SimpleLazyObject(lambda: no_database(None))
    response = server_error(request)
    assert response.status_code == 500
    body = response.content.decode()
    assert '<html lang="zh-hans">' in body
    assert "<h1>服务器出错了</h1>" in body
    assert 'class="topbar"' in body and 'href="/"' in body
    assert "set_language" not in body and "csrfmiddlewaretoken" not in body


def test_a_failing_view_answers_the_500_page_without_a_query(settings, chinese, db):
    settings.ROOT_URLCONF = "minqing.lib.tests.urls_boom"
    client = Client(raise_request_exception=False)
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/boom/", headers=ZH)
    assert response.status_code == 500
    assert "<h1>服务器出错了</h1>" in response.content.decode()
    assert len(captured) == 0


def test_the_favicon_is_linked_and_served(client, db):
    page = client.get(reverse("accounts:login")).content.decode()
    assert 'rel="icon" href="/static/minqing/favicon.svg" type="image/svg+xml"' in page
    assert 'rel="icon" href="/static/minqing/favicon.ico" sizes="any"' in page
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO header
    svg = client.get("/static/minqing/favicon.svg")
    assert svg.status_code == 200
