"""The audit log as the auditor reads it: in words, filtered, paged in constant queries, and
exported by the auditor alone (the export audited itself)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from minqing.accounts.models import Role
from minqing.audit.models import AuditEvent
from minqing.audit.services import audit_record
from minqing.auditor.selectors import AuditFilter, audit_events, describe
from minqing.conftest import make_user
from minqing.households.services import reveal
from minqing.tests.dbstate import nothing_written

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int = 10):
    return dt.datetime(2026, 11, day, hour, 0, tzinfo=SHANGHAI)


@pytest.fixture
def trail(county, owner, member):
    """Six events over three days by two people, on top of what building the county wrote."""
    made = {}
    for key, when, user, action in (
        ("o_login_3", at(3, 9), owner, "login"),
        ("o_reveal_3", at(3, 23), owner, "personal_data.reveal"),  # 23:00 local: still the 3rd
        ("m_login_4", at(4, 0), member, "login"),  # 00:00 local: the 4th
        ("o_reveal_4", at(4, 12), owner, "personal_data.reveal"),
        ("m_reveal_5", at(5, 8), member, "personal_data.reveal"),
        ("o_logout_5", at(5, 18), owner, "logout"),
    ):
        with time_machine.travel(when, tick=False):
            made[key] = audit_record(
                action=action,
                user=user,
                obj=county.resident_a1 if action.endswith("reveal") else None,
                detail={"field": "id_number"} if action.endswith("reveal") else {},
            ).pk
    return made


def ids(trail, *keys) -> list[int]:
    return sorted((trail[k] for k in keys), reverse=True)


def page_ids(response) -> list[int]:
    assert response.status_code == 200, response.status_code
    return [line.event.pk for line in response.context["lines"]]


def test_filters_return_exactly_the_expected_rows(client, auditor, trail):
    client.force_login(auditor)
    url = reverse("audit:log")
    assert page_ids(client.get(url, {"user": "owner", "action": "personal_data.reveal"})) == ids(
        trail, "o_reveal_3", "o_reveal_4"
    )
    # Whole local days, both ends included: the 3rd 23:00 is in, the 4th 00:00 is not.
    assert page_ids(client.get(url, {"date_from": "2026-11-03", "date_to": "2026-11-03"})) == ids(
        trail, "o_login_3", "o_reveal_3"
    )
    assert page_ids(
        client.get(url, {"user": "member", "date_from": "2026-11-04", "date_to": "2026-11-05"})
    ) == ids(trail, "m_login_4", "m_reveal_5")
    assert page_ids(client.get(url, {"action": "logout"})) == ids(trail, "o_logout_5")
    assert page_ids(client.get(url, {"user": "nobody"})) == []
    # The same filter, read straight from the selector.
    selected = audit_events(AuditFilter(username="owner", date_from=dt.date(2026, 11, 4)))
    assert list(selected.values_list("pk", flat=True)) == ids(trail, "o_reveal_4", "o_logout_5")


def test_a_bad_filter_says_so_keeps_the_text_and_lists_nothing(client, auditor, trail):
    client.force_login(auditor)
    response = client.get(
        reverse("audit:log"),
        {"user": "owner", "date_from": "2026-11-05", "date_to": "2026-11-03"},
    )
    assert response.status_code == 200
    assert response.context["lines"] == []
    body = response.content.decode()
    assert "The last day comes before the first day." in body
    assert 'value="owner"' in body and 'value="2026-11-05"' in body


def test_the_log_names_whose_record_and_which_field_with_masked_names(client, auditor, trail):
    client.force_login(auditor)
    with translation.override("zh-hans"):
        response = client.get(
            reverse("audit:log"),
            {"action": "personal_data.reveal", "user": "member"},
            headers={"accept-language": "zh-hans"},
        )
        line = response.context["lines"][0]
        assert (line.action, line.summary) == ("查看完整信息", "户 A001 王**，成员 王**：身份证号")
    body = response.content.decode()
    assert "户 A001 王**，成员 王**：身份证号" in body
    assert "王建国" not in body


def test_household_records_and_field_lists_read_in_words(county, owner):
    household = county.household_a1
    reveal(by=owner, obj=household, field="phone")
    audit_record(
        action="household.update",
        user=owner,
        obj=household,
        detail={"fields": ["address", "phone"]},
    )
    events = list(AuditEvent.objects.filter(object_type="households.household").order_by("-id")[:2])
    with translation.override("zh-hans"):
        lines = describe(events)
        assert [(x.action, x.summary) for x in lines] == [
            ("修改户信息", "户 A001 王**：住址、联系电话"),
            ("查看完整信息", "户 A001 王**：联系电话"),
        ]
        assert (
            describe(
                [AuditEvent(action="issue.dispatch", object_type="issues.issue", object_id="12")]
            )[0].summary
            == "问题 #12"
        )


def test_the_log_pages_in_a_constant_number_of_queries(
    client, auditor, county, owner, pinned_queries
):
    client.force_login(auditor)
    url = reverse("audit:log")

    def queries(page: int | None = None) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, {"page": page} if page else {})
        assert response.status_code == 200
        return len(captured)

    for _i in range(5):
        audit_record(
            action="personal_data.reveal",
            user=owner,
            obj=county.resident_a1,
            detail={"field": "id_number"},
        )
        audit_record(
            action="household.update",
            user=owner,
            obj=county.household_a1,
            detail={"fields": ["address"]},
        )
    few = queries()
    for _i in range(120):
        audit_record(
            action="personal_data.reveal",
            user=owner,
            obj=county.resident_b1,
            detail={"field": "phone"},
        )
        audit_record(
            action="household.update",
            user=owner,
            obj=county.household_b1,
            detail={"fields": ["address"]},
        )
    many = queries()
    assert many == few
    assert queries(page=2) == few
    pinned_queries.pin("audit.log", many)
    response = client.get(url, {"page": 2})
    assert len(response.context["lines"]) == 100
    assert response.context["page"].paginator.num_pages == 3


@pytest.mark.parametrize("role", [Role.SECURITY_ADMIN, Role.SYSTEM_ADMIN, Role.COMMAND_CENTRE])
def test_export_is_refused_to_anyone_but_the_auditor(client, county, trail, role):
    user = make_user("not_auditor", role, county.county if role == Role.COMMAND_CENTRE else None)
    client.force_login(user)
    before = AuditEvent.objects.count()
    with nothing_written():
        response = client.post(reverse("audit:export"), {"user": "owner"})
    assert response.status_code == 403
    assert not response.get("Content-Disposition")
    assert response["Content-Type"].startswith("text/html")
    assert not AuditEvent.objects.filter(action="audit.export").exists()
    assert AuditEvent.objects.count() == before
    assert client.get(reverse("audit:log")).status_code == 403


def test_export_needs_a_post(client, auditor, trail):
    client.force_login(auditor)
    with nothing_written():
        assert client.get(reverse("audit:export")).status_code == 405
    assert not AuditEvent.objects.filter(action="audit.export").exists()


def test_the_auditor_exports_the_filtered_rows_and_the_export_is_audited(client, auditor, trail):
    client.force_login(auditor)
    with time_machine.travel(at(6, 15), tick=False), translation.override("zh-hans"):
        response = client.post(
            reverse("audit:export"),
            {"user": "owner", "action": "personal_data.reveal"},
            headers={"accept-language": "zh-hans"},
        )
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"] == 'attachment; filename="audit-20261106-150000.csv"'
        text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["导出人 auditor，导出时间 2026-11-06 15:00:00"]
    assert rows[1][:7] == ["序号", "时间", "用户", "IP地址", "操作", "对象", "字段"]
    assert [(r[0], r[1], r[2], r[4], r[5], r[6], r[7]) for r in rows[2:]] == [
        (
            str(trail["o_reveal_4"]),
            "2026-11-04 12:00:00",
            "owner",
            "查看完整信息",
            "户 A001 王**，成员 王**",
            "身份证号",
            "是",
        ),
        (
            str(trail["o_reveal_3"]),
            "2026-11-03 23:00:00",
            "owner",
            "查看完整信息",
            "户 A001 王**，成员 王**",
            "身份证号",
            "是",
        ),
    ]
    export = AuditEvent.objects.get(action="audit.export")
    assert (export.username, export.detail) == (
        "auditor",
        {"user": "owner", "action": "personal_data.reveal", "rows": 2},
    )
