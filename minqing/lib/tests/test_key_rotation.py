"""Rotation leaves nothing under an old key (docs/SECURITY-BAR.md §9): it covers data keys, sealed
files and the blind-index key; running processes pick the new ring up; ciphertexts are bound to
their row and column, so one moved in the database is refused."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap

import pytest
from django.db import connection

from minqing.households.ledger.storage import IMPORTS
from minqing.households.models import Household, Resident
from minqing.households.selectors import search
from minqing.issues.photos import PHOTOS
from minqing.lib import crypto, sealed_files
from minqing.lib.rotation import (
    StillInUse,
    keys_in_use,
    reseal_everything,
    retire_old_keys,
    rotate_keys,
)

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(64)


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    return settings.DATA_DIR


def _values() -> dict[tuple[str, int, str], str]:
    """Every encrypted value of the county, read through the models."""
    out = {}
    for model, fields in (
        (Resident, ("id_number", "phone", "health_notes")),
        (Household, ("phone", "income_notes")),
    ):
        for obj in model.objects.all():
            for name in fields:
                value = getattr(obj, name)
                if value is not None:
                    out[(model.__name__, obj.pk, name)] = value.reveal()
    return out


def _raw(table: str, column: str, pk: int) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return bytes(cursor.fetchone()[0])


def _write_raw(table: str, column: str, pk: int, blob: bytes) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [blob, pk])  # noqa: S608


def test_rotation_reseals_every_value_and_file_and_both_read_back(county, data_dir):
    values = _values()
    assert len(values) >= 9
    photo, ledger = PHOTOS.store(PNG, "png"), IMPORTS.store(b"a,b\n1,2\n", "csv")
    assert sealed_files.formats_in_files() == {(2, 1): 2}

    report = rotate_keys()

    ring = crypto.keyring()
    assert (ring.current, ring.index_current) == (2, 2)
    assert report.rows["households.Resident"] == 3 and report.files == 2
    assert report.unreadable == {}
    assert keys_in_use() == {2}
    assert sealed_files.formats_in_files() == {(2, 2): 2}
    assert _values() == values
    assert PHOTOS.load(photo) == PNG
    assert IMPORTS.load(ledger) == b"a,b\n1,2\n"
    assert (data_dir / "photos" / photo).stat().st_mode & 0o777 == 0o600


def test_lookup_by_full_id_works_during_and_after_index_key_rotation(county, owner, data_dir):
    number = county.resident_a1.id_number.reveal()
    phone = county.resident_a1.phone.reveal()
    old_hash = Resident.objects.get(pk=county.resident_a1.pk).id_number_hash

    # midway: the new ring (new index key) is written, no row rewritten yet
    crypto.keyring().with_new_key().with_new_index_key().save(crypto.settings.MINQING_KEYRING)
    assert crypto.blind_index(number, "id_number") != old_hash
    assert [r.pk for r in search(owner, number).residents] == [county.resident_a1.pk]
    assert county.resident_a1.pk in [r.pk for r in search(owner, phone).residents]

    reseal_everything(crypto.keyring(), reindex=True)
    stored = Resident.objects.get(pk=county.resident_a1.pk).id_number_hash
    assert stored == crypto.blind_index(number, "id_number") != old_hash
    assert [r.pk for r in search(owner, number).residents] == [county.resident_a1.pk]

    retire_old_keys()
    ring = crypto.keyring()
    assert set(ring.index_keys) == {2} and set(ring.keys) == {2}
    assert [r.pk for r in search(owner, number).residents] == [county.resident_a1.pk]
    assert Resident.objects.filter(id_number_hash=old_hash).count() == 0


def test_a_process_holding_the_old_ring_seals_with_the_new_key_after_rotation(
    county, settings, data_dir
):
    assert crypto.key_id_of(crypto.encrypt("x")) == 1  # this process has the ring cached
    # another process (``minqing rotate_keys``) writes the new ring; nobody tells us
    crypto.Keyring.from_json(settings.MINQING_KEYRING.read_text()).with_new_key().save(
        settings.MINQING_KEYRING
    )
    assert crypto.key_id_of(crypto.encrypt("x")) == 2
    resident = Resident.objects.get(pk=county.resident_a1.pk)
    resident.save()
    assert crypto.key_id_of(_raw("households_resident", "id_number", resident.pk)) == 2
    assert crypto.key_id_of(_raw("households_resident", "id_number", county.resident_b1.pk)) == 1


WORKER = textwrap.dedent(
    """
    import sys, django
    django.setup()
    from minqing.lib import crypto
    for line in sys.stdin:
        print(crypto.key_id_of(crypto.encrypt("x")), crypto.keyring().index_current, flush=True)
    """
)


@pytest.mark.slow
def test_a_running_worker_process_picks_up_the_rotated_ring(county, settings, data_dir):
    env = {**os.environ, "MINQING_KEYRING": str(settings.MINQING_KEYRING)}
    env["MINQING_DATA_DIR"] = str(data_dir)
    env.setdefault("DJANGO_SETTINGS_MODULE", "minqing.settings")
    crypto.keyring()
    worker = subprocess.Popen(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", WORKER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        worker.stdin.write("seal\n")
        worker.stdin.flush()
        assert worker.stdout.readline().split() == ["1", "1"]
        rotate_keys()
        worker.stdin.write("seal\n")
        worker.stdin.flush()
        assert worker.stdout.readline().split() == ["2", "2"]
    finally:
        worker.stdin.close()
        worker.wait(timeout=30)


def test_old_keys_are_removable_after_rotation_and_everything_still_reads(county, data_dir):
    values = _values()
    photo = PHOTOS.store(PNG, "png")
    rotate_keys()
    retire_old_keys()
    ring = crypto.Keyring.from_json(crypto.settings.MINQING_KEYRING.read_text())
    assert list(ring.keys) == [2] and list(ring.index_keys) == [2]
    crypto.forget_cached_keyring()
    assert _values() == values
    assert PHOTOS.load(photo) == PNG


def test_retire_reseals_a_straggler_written_with_the_old_ring(county, data_dir):
    old_ring = crypto.keyring()
    rotate_keys()
    # a process that had not yet seen the new ring wrote this row after the rewrite passed it
    field = Resident._meta.get_field("id_number")
    seal = Resident.objects.get(pk=county.resident_b1.pk).seal_id.bytes
    number = county.resident_b1.id_number.reveal()
    blob = crypto.encrypt(number, old_ring, context=field.context, seal_id=seal)
    _write_raw("households_resident", "id_number", county.resident_b1.pk, blob)
    assert keys_in_use() == {1, 2}
    report = retire_old_keys()
    assert report.rows["households.Resident"] == 1
    assert keys_in_use() == {2}
    assert Resident.objects.get(pk=county.resident_b1.pk).id_number.reveal() == number


def test_an_id_number_copied_into_another_residents_row_is_refused(county, data_dir):
    a, b = county.resident_a1, county.resident_b1
    _write_raw(
        "households_resident", "id_number", b.pk, _raw("households_resident", "id_number", a.pk)
    )
    stolen = Resident.objects.get(pk=b.pk)
    with pytest.raises(crypto.BindingError, match="sealed for another row"):
        stolen.id_number  # noqa: B018
    assert Resident.objects.get(pk=a.pk).id_number.reveal() == a.id_number.reveal()
    # a rotation does not launder it: reported, left as it is, and retiring refuses
    before = _raw("households_resident", "id_number", b.pk)
    report = rotate_keys()
    assert report.unreadable == {"households.Resident": [b.pk]}
    assert _raw("households_resident", "id_number", b.pk) == before
    with pytest.raises(StillInUse):
        retire_old_keys()


def test_a_value_copied_into_another_field_fails_authentication(county, data_dir):
    a = county.resident_a1
    _write_raw("households_resident", "phone", a.pk, _raw("households_resident", "id_number", a.pk))
    with pytest.raises(crypto.KeyringError, match="households_resident.phone"):
        Resident.objects.get(pk=a.pk)
    # and across tables: a resident's phone into its household's phone
    h = county.household_a1
    _write_raw(
        "households_household", "phone", h.pk, _raw("households_resident", "id_number", a.pk)
    )
    with pytest.raises(crypto.KeyringError, match="fails authentication"):
        Household.objects.get(pk=h.pk)


def test_a_sealed_file_copied_over_another_fails_to_open(data_dir):
    first, second = PHOTOS.store(PNG, "png"), PHOTOS.store(b"other", "png")
    (data_dir / "photos" / second).write_bytes((data_dir / "photos" / first).read_bytes())
    with pytest.raises(crypto.KeyringError, match="fails authentication"):
        PHOTOS.load(second)


def test_values_sealed_before_row_binding_are_resealed_bound(county, data_dir):
    """Format 1 (no seal id, associated data the header only), as values were sealed before rows
    had a seal id: rotate_keys re-seals it; the field refuses to read it as it is."""
    a = county.resident_a1
    number = a.id_number.reveal()
    ring = crypto.keyring()
    header = bytes([1]) + ring.current.to_bytes(2, "big")
    nonce = os.urandom(12)
    aead, suffix = crypto.cipher_for(ring, 1)
    legacy = header + nonce + aead.encrypt(nonce, number.encode(), header + suffix)
    _write_raw("households_resident", "id_number", a.pk, legacy)
    with pytest.raises(crypto.BindingError, match="format 1"):
        Resident.objects.get(pk=a.pk)
    reseal_everything(ring, reindex=False, labels=("households.Resident",), new_seal_ids=True)
    assert Resident.objects.get(pk=a.pk).id_number.reveal() == number
    assert crypto.seal_id_of(_raw("households_resident", "id_number", a.pk)) is not None


def test_a_ring_written_before_index_keys_were_versioned_still_reads():
    ring = crypto.Keyring.generate(crypto.AES_256_GCM)  # such rings had only AES keys
    old = {
        "current": 1,
        "keys": {"1": base64.b64encode(ring.keys[1]).decode()},
        "index_key": base64.b64encode(ring.index_key).decode(),
    }
    read = crypto.Keyring.from_json(json.dumps(old))
    assert read.keys == ring.keys and read.index_keys == {1: ring.index_key}


def test_encrypted_value_cannot_be_written_by_queryset_update(county):
    with pytest.raises(ValueError, match="through its row"):
        Resident.objects.filter(pk=county.resident_a1.pk).update(phone="13800000000")


def test_rotate_keys_command_rotates_retires_and_audits(county, data_dir):
    from io import StringIO

    from django.core.management import call_command

    from minqing.audit.models import AuditEvent

    out = StringIO()
    call_command("rotate_keys", stdout=out)
    assert "households.Resident: 3 rows re-sealed" in out.getvalue()
    assert "data key 2 (SM4-GCM), index key 2" in out.getvalue()
    call_command("rotate_keys", "--retire", stdout=out)
    ring = crypto.keyring()
    assert (list(ring.keys), list(ring.index_keys)) == ([2], [2])
    actions = list(
        AuditEvent.objects.filter(action__startswith="keys.").values_list("action", flat=True)
    )
    assert sorted(actions) == ["keys.retire", "keys.rotate"]
