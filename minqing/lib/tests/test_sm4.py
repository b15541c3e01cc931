"""docs/SECURITY-BAR.md §9 (GB/T 39786): personal data sealed with SM4-GCM where
``cryptography``/OpenSSL has it, AES-256-GCM where not; keys sealed under AES before keep reading
and ``rotate_keys`` moves them to SM4."""

from __future__ import annotations

import base64
import json
import logging
import os
from io import StringIO

import pytest
from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from minqing.households.models import Household, Resident
from minqing.lib import crypto
from minqing.lib.rotation import keys_in_use, retire_old_keys, rotate_keys

# RFC 8998 appendix A.1, SM4-GCM (written out here, not taken from crypto.RFC8998_A1)
KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
NONCE = bytes.fromhex("00001234567800000000ABCD")
AAD = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
PLAIN = bytes.fromhex(
    "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
    "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"
)
CIPHERTEXT = bytes.fromhex(
    "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
    "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
)
TAG = bytes.fromhex("83DE3541E4C2B58177E065A9BF7B62EC")

CONTEXT = "households_resident.id_number"
NUMBER = "341602198001010018"

needs_sm4 = pytest.mark.skipif(
    not crypto.sm4_gcm_available(), reason="this cryptography/OpenSSL has no SM4-GCM"
)


@pytest.fixture
def data_dir(settings, tmp_path):
    """Sealed files of the test's own (a rotation re-seals every file under DATA_DIR)."""
    settings.DATA_DIR = tmp_path / "data"
    return settings.DATA_DIR


@pytest.fixture
def no_sm4(monkeypatch):
    """A build without SM4-GCM: the probe says no."""
    monkeypatch.setattr(crypto, "sm4_gcm_available", lambda: False)
    crypto.forget_cached_keyring()


@pytest.fixture
def aes_ring():
    """A key ring as written before SM4: one AES-256 key, no ``algorithms``."""
    old = {
        "current": 1,
        "keys": {"1": base64.b64encode(os.urandom(32)).decode()},
        "index_current": 1,
        "index_keys": {"1": base64.b64encode(os.urandom(32)).decode()},
    }
    settings.MINQING_KEYRING.write_text(json.dumps(old))
    crypto.forget_cached_keyring()
    return old


def _raw(model, column: str, pk: int) -> bytes:
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return bytes(cursor.fetchone()[0])


def _values() -> dict[tuple[str, int, str], str]:
    out = {}
    for model, names in (
        (Resident, ("id_number", "phone", "health_notes")),
        (Household, ("phone", "income_notes")),
    ):
        for obj in model.objects.all():
            for name in names:
                value = getattr(obj, name)
                if value is not None:
                    out[(model.__name__, obj.pk, name)] = value.reveal()
    return out


@needs_sm4
def test_the_rfc8998_sm4_gcm_vector_passes_through_the_wrapper():
    aead = crypto.SM4GCM(KEY)
    assert aead.encrypt(NONCE, PLAIN, AAD) == CIPHERTEXT + TAG
    assert aead.decrypt(NONCE, CIPHERTEXT + TAG, AAD) == PLAIN
    assert crypto.RFC8998_A1 == (KEY, NONCE, AAD, PLAIN, CIPHERTEXT + TAG)


@needs_sm4
@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[:-1] + bytes([b[-1] ^ 1]),  # tag
        lambda b: bytes([b[0] ^ 0x80]) + b[1:],  # ciphertext
        lambda b: b[:-1],  # a 15-byte tag
        lambda b: b[:8],  # shorter than a tag
    ],
    ids=["tag", "ciphertext", "short-tag", "truncated"],
)
def test_a_tampered_sm4_gcm_value_fails(damage):
    aead = crypto.SM4GCM(KEY)
    with pytest.raises(InvalidTag):
        aead.decrypt(NONCE, damage(CIPHERTEXT + TAG), AAD)
    with pytest.raises(InvalidTag):  # other associated data
        aead.decrypt(NONCE, CIPHERTEXT + TAG, AAD + b"x")


@needs_sm4
def test_a_fresh_ring_seals_with_sm4_gcm_and_only_sm4_opens_it():
    ring = crypto.keyring()
    assert ring.algorithm() == crypto.SM4_GCM and len(ring.keys[ring.current]) == 16
    saved = json.loads(settings.MINQING_KEYRING.read_text())
    assert saved["algorithms"] == {"1": "sm4-gcm"}

    seal_id = os.urandom(16)
    blob = crypto.encrypt(NUMBER, context=CONTEXT, seal_id=seal_id)
    assert crypto.decrypt(blob, context=CONTEXT) == NUMBER
    header, nonce, body = blob[:19], blob[19:31], blob[31:]
    aad = header + CONTEXT.encode()
    key = ring.keys[1]
    assert crypto.SM4GCM(key).decrypt(nonce, body, aad + b"\0sm4-gcm") == NUMBER.encode()
    # The same bytes under AES with the same key bytes (AES-128), either associated data: refused
    for candidate in (aad, aad + b"\0sm4-gcm"):
        with pytest.raises(InvalidTag):
            AESGCM(key).decrypt(nonce, body, candidate)
    # and SM4 without the algorithm in the associated data too (it is bound)
    with pytest.raises(InvalidTag):
        crypto.SM4GCM(key).decrypt(nonce, body, aad)


@needs_sm4
def test_a_tampered_tag_on_a_stored_value_fails_authentication(county):
    a = county.resident_a1
    blob = bytearray(_raw(Resident, "id_number", a.pk))
    assert crypto.keyring().algorithm(crypto.key_id_of(blob)) == crypto.SM4_GCM
    blob[-1] ^= 1
    with pytest.raises(crypto.KeyringError, match="fails authentication"):
        crypto.decrypt(bytes(blob), context=CONTEXT)


@needs_sm4
def test_an_aes_ring_still_reads_after_the_upgrade_and_rotate_keys_moves_it_to_sm4(
    aes_ring, county, data_dir
):
    ring = crypto.keyring()
    assert ring.algorithm(1) == crypto.AES_256_GCM and len(ring.keys[1]) == 32
    before = _values()
    assert before and keys_in_use() == {1}
    raw = _raw(Resident, "id_number", county.resident_a1.pk)
    nonce, body = raw[19:31], raw[31:]  # sealed as before SM4: AES, no algorithm in the AAD
    assert AESGCM(ring.keys[1]).decrypt(nonce, body, raw[:19] + CONTEXT.encode())

    crypto.forget_cached_keyring()  # a new process reads the same (old) file
    assert _values() == before

    rotate_keys()
    ring = crypto.keyring()
    assert (ring.current, ring.algorithm()) == (2, crypto.SM4_GCM)
    assert ring.algorithm(1) == crypto.AES_256_GCM  # the old key keeps its cipher
    assert keys_in_use() == {2}
    assert _values() == before
    raw = _raw(Resident, "id_number", county.resident_a1.pk)
    with pytest.raises(InvalidTag):  # no longer AES under any key of the ring
        AESGCM(ring.keys[2]).decrypt(raw[19:31], raw[31:], raw[:19] + CONTEXT.encode())

    retire_old_keys()
    saved = json.loads(settings.MINQING_KEYRING.read_text())
    assert saved["algorithms"] == {"2": "sm4-gcm"} and list(saved["keys"]) == ["2"]
    crypto.forget_cached_keyring()
    assert _values() == before


def test_without_sm4_a_fresh_ring_is_aes_256_gcm_and_works(no_sm4, county, data_dir):
    ring = crypto.keyring()
    assert ring.algorithm() == crypto.AES_256_GCM and len(ring.keys[1]) == 32
    assert json.loads(settings.MINQING_KEYRING.read_text())["algorithms"] == {"1": "aes-256-gcm"}
    assert (
        county.resident_a1.id_number.reveal()
        == Resident.objects.get(pk=county.resident_a1.pk).id_number.reveal()
    )
    blob = crypto.encrypt(NUMBER, context=CONTEXT, seal_id=os.urandom(16))
    assert AESGCM(ring.keys[1]).decrypt(blob[19:31], blob[31:], blob[:19] + CONTEXT.encode())

    out = StringIO()
    call_command("rotate_keys", stdout=out)
    assert "data key 2 (AES-256-GCM)" in out.getvalue()
    assert "SM4-GCM is not available" in out.getvalue()
    assert crypto.keyring().algorithm() == crypto.AES_256_GCM
    assert keys_in_use() == {2}


def test_the_probe_says_no_when_openssl_refuses_sm4(monkeypatch):
    class Refused:
        def __init__(self, key):
            raise UnsupportedAlgorithm("SM4 is not supported by this backend")

    monkeypatch.setattr(crypto, "SM4GCM", Refused)
    assert crypto.sm4_gcm_available.__wrapped__() is False


@needs_sm4
def test_a_server_without_sm4_refuses_an_sm4_ring_clearly(county, monkeypatch, caplog):
    blob = _raw(Resident, "id_number", county.resident_a1.pk)

    class Refused:
        def __init__(self, key):
            raise UnsupportedAlgorithm("SM4 is not supported by this backend")

    monkeypatch.setattr(crypto, "SM4GCM", Refused)
    monkeypatch.setattr(crypto, "sm4_gcm_available", lambda: False)
    crypto._cipher.cache_clear()
    crypto.forget_cached_keyring()
    with caplog.at_level(logging.ERROR, logger="minqing.crypto"):
        ring = crypto.keyring()
    assert "is SM4-GCM, which this cryptography/OpenSSL cannot run" in caplog.text
    with pytest.raises(crypto.KeyringError, match="sm4-gcm, which this cryptography"):
        crypto.decrypt(blob, ring, context=CONTEXT)
    with pytest.raises(crypto.KeyringError, match="sm4-gcm, which this cryptography"):
        crypto.encrypt(NUMBER, ring, context=CONTEXT)
    crypto._cipher.cache_clear()


@needs_sm4
def test_the_cipher_is_logged_when_a_process_reads_the_ring(caplog):
    crypto.forget_cached_keyring()
    with caplog.at_level(logging.INFO, logger="minqing.crypto"):
        crypto.keyring()
    assert "personal data sealed with SM4-GCM (data key 1; SM4-GCM available here)" in caplog.text


@pytest.mark.parametrize(
    ("algorithm", "size"), [("sm4-gcm", 32), ("aes-256-gcm", 16), ("des", 8), (None, 16)]
)
def test_a_key_that_is_not_its_algorithms_size_is_a_malformed_ring(algorithm, size):
    raw = {
        "current": 1,
        "keys": {"1": base64.b64encode(os.urandom(size)).decode()},
        "index_current": 1,
        "index_keys": {"1": base64.b64encode(os.urandom(32)).decode()},
    }
    if algorithm:
        raw["algorithms"] = {"1": algorithm}
    with pytest.raises(crypto.KeyringError, match="malformed key ring"):
        crypto.Keyring.from_json(json.dumps(raw))
