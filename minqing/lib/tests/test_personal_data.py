"""docs/SECURITY-BAR.md §9–10, §13: encrypted at rest, masked by default, audited reveal,
rotation."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from minqing.audit.models import AuditEvent
from minqing.households.models import Household, Resident
from minqing.lib import crypto
from minqing.lib.rotation import keys_in_use, rotate_keys


def _plain_values(c) -> list[str]:
    return [
        c.resident_a1.id_number.reveal(),
        c.resident_b1.id_number.reveal(),
        "13812345678",
        "13912345678",
        "13712345678",
        "高血压",
        "年收入约三万",
    ]


def _dump_all_rows() -> str:
    """Every column of every table, as the database returns it."""
    parts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, (bytes, memoryview)):
                        parts.append(bytes(value).decode("latin-1"))
                    else:
                        parts.append(str(value))
    return "\n".join(parts)


def test_no_plaintext_id_or_phone_anywhere_in_the_database(county, client, owner):
    client.force_login(owner)
    client.post(
        reverse(
            "households:reveal",
            kwargs={"kind": "resident", "pk": county.resident_a1.pk, "field": "id_number"},
        )
    )
    dump = _dump_all_rows()
    for value in _plain_values(county):
        assert value not in dump
        assert value.encode("utf-8").decode("latin-1") not in dump


def test_lookup_by_full_id_works_through_the_keyed_hash(county):
    value = county.resident_a1.id_number.reveal()
    found = Resident.objects.get(id_number_hash=crypto.blind_index(value, "id_number"))
    assert found.pk == county.resident_a1.pk
    assert str(found.id_number) == value[:4] + "*" * 13 + value[-1:]


def test_pages_and_api_show_masked_values_only(client, county, owner):
    client.force_login(owner)
    value = county.resident_a1.id_number.reveal()
    for url, answer in (
        ("page", client.get(reverse("households:detail", kwargs={"pk": county.household_a1.pk}))),
        ("api", client.get(reverse("api:household", kwargs={"pk": county.household_a1.pk}))),
        ("search", client.post(reverse("households:search"), {"q": value})),
        (
            "api search",
            client.post(reverse("api:search"), {"q": value}, content_type="application/json"),
        ),
    ):
        assert answer.status_code == 200, url
        body = answer.content.decode()
        # digits 5–14 appear only in the echoed query
        assert value[4:14] not in body.replace(value, ""), url
        assert "12345678" not in body, url
    body = client.get(
        reverse("households:detail", kwargs={"pk": county.household_a1.pk})
    ).content.decode()
    assert "3416*************" in body
    assert "138****5678" in body


def test_reveal_returns_the_value_and_writes_one_audit_row(client, county, owner):
    client.force_login(owner)
    url = reverse(
        "households:reveal",
        kwargs={"kind": "resident", "pk": county.resident_a1.pk, "field": "id_number"},
    )
    response = client.post(url)
    assert response.status_code == 200
    assert county.resident_a1.id_number.reveal() in response.content.decode()
    events = list(AuditEvent.objects.filter(action="personal_data.reveal"))
    assert len(events) == 1
    assert events[0].username == "owner"
    assert events[0].object_id == str(county.resident_a1.pk)
    assert events[0].detail == {"field": "id_number"}


def test_reveal_needs_post(client, county, owner):
    client.force_login(owner)
    url = reverse(
        "households:reveal",
        kwargs={"kind": "resident", "pk": county.resident_a1.pk, "field": "id_number"},
    )
    assert client.get(url).status_code == 405
    assert not AuditEvent.objects.filter(action="personal_data.reveal").exists()


def test_api_reveal_and_refusal_for_role_without_reveal_right(client, county, owner):
    from minqing.accounts.models import Role
    from minqing.conftest import make_user

    rep = make_user("rep", Role.REPRESENTATIVE, county.village_a)
    client.force_login(rep)
    url = reverse("api:reveal", kwargs={"kind": "residents", "pk": county.resident_a1.pk})
    response = client.post(url, data='{"field": "phone"}', content_type="application/json")
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="personal_data.reveal").exists()
    client.force_login(owner)
    response = client.post(url, data='{"field": "phone"}', content_type="application/json")
    assert response.json() == {"field": "phone", "value": "13812345678"}
    assert AuditEvent.objects.filter(action="personal_data.reveal").count() == 1


def test_rotate_keys_reseals_everything_and_reads_back(county, settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    before = {r.pk: (r.id_number.reveal(), r.phone.reveal()) for r in Resident.objects.all()}
    assert keys_in_use() == {1}
    counts = rotate_keys().rows
    assert counts["households.Resident"] == 3
    assert counts["households.Household"] == 3
    assert keys_in_use() == {2}
    after = {r.pk: (r.id_number.reveal(), r.phone.reveal()) for r in Resident.objects.all()}
    assert after == before
    assert Household.objects.get(pk=county.household_a1.pk).income_notes.reveal() == "年收入约三万"


def test_a_value_sealed_with_a_missing_key_is_refused(county, tmp_path):
    blob = crypto.encrypt("secret")
    settings.MINQING_KEYRING = tmp_path / "other.json"
    crypto.forget_cached_keyring()
    with pytest.raises(crypto.KeyringError):
        crypto.decrypt(blob)


def test_tampered_ciphertext_fails_authentication():
    blob = bytearray(crypto.encrypt("341602197003110011"))
    blob[-1] ^= 1
    with pytest.raises(crypto.KeyringError, match="fails authentication"):
        crypto.decrypt(bytes(blob))


def test_sensitive_value_prints_masked_even_before_saving():
    resident = Resident(name="王五", id_number="110105194912310029", phone="13812345678")
    assert str(resident.id_number) == "1101*************9"
    assert f"{resident.phone}" == "138****5678"
    assert re.search(r"\d{11}", repr(resident.phone)) is None


def test_pages_carry_a_self_only_content_security_policy(client, county, owner):
    client.force_login(owner)
    response = client.get(reverse("households:detail", kwargs={"pk": county.household_a1.pk}))
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert "http" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
