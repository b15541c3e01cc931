"""The API answers JSON everywhere under /api/, never an HTML page: unknown addresses are a JSON
404, and invalid parameters the documented 400 ``FieldErrorsOut`` in the reader's language,
never ninja's undocumented English 422."""

from __future__ import annotations

import pytest

from minqing.accounts.models import Role
from minqing.accounts.services import api_token_issue
from minqing.api import api
from minqing.conftest import make_user
from minqing.visits.models import Visit


@pytest.fixture
def bearer(county):
    leader = make_user("leader", Role.GROUP_LEADER, county.grid_a1)
    return {"Authorization": f"Bearer {api_token_issue(user=leader)[1]}"}


@pytest.mark.parametrize(
    "path", ["/api/v1/nothing/", "/api/v1/issues/abc/", "/api/v2/issues/", "/api/"]
)
def test_unknown_api_addresses_answer_json_404(client, bearer, path):
    response = client.get(path, headers=bearer)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_unknown_api_address_is_json_for_anonymous_readers_too(client, db):
    response = client.get("/api/v1/nothing/")
    assert response.status_code == 404 and response.json() == {
        "detail": "Not found.",
        "code": "not_found",
    }


def test_a_bad_query_parameter_is_the_documented_400(client, bearer):
    response = client.get("/api/v1/issues/", {"offset": "abc", "limit": "0"}, headers=bearer)
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Check the values sent.",
        "code": "invalid",
        "errors": {
            "offset": ["Enter a whole number."],
            "limit": ["Ensure this value is greater than or equal to 1."],
        },
        "codes": {"offset": ["invalid"], "limit": ["invalid"]},
    }


def test_a_bad_body_names_the_fields_as_sent_in_chinese(client, county, bearer, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    response = client.post(
        "/api/v1/visits/",
        {"household": "x", "mode": "home", "visited_at": "yesterday"},
        content_type="application/json",
        headers=bearer | {"Accept-Language": "zh-hans"},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "请检查提交的值。"
    assert body["errors"]["household"] == ["请填写整数。"]
    assert body["errors"]["client_uuid"] == ["此项必填。"]
    assert body["errors"]["visited_at"] == ["请填写有效的日期和时间。"]
    assert not Visit.objects.exists()


def test_a_body_that_is_not_json_is_a_400(client, bearer):
    response = client.post(
        "/api/v1/visits/", "{not json", content_type="application/json", headers=bearer
    )
    assert response.status_code == 400
    assert response.json()["detail"]


def test_every_operation_documents_400_and_401():
    schema = api.get_openapi_schema()
    operations = [op for path in schema["paths"].values() for op in path.values()]
    assert len(operations) > 20
    for operation in operations:
        assert {"400", "401"} <= {str(code) for code in operation["responses"]}, operation[
            "operationId"
        ]
    assert "422" not in str(schema)
