"""Encryption at rest for personal data (SECURITY.md 9).

AES-256-GCM (authenticated) from ``cryptography``; the keys live in a key ring file outside the
database (``settings.MINQING_KEYRING``), never in a row. A ciphertext names the key that sealed
it, so keys can rotate: new writes use the newest key, old rows stay readable until
``minqing rotate_keys`` re-seals them. Exact lookup uses a keyed hash (HMAC-SHA256, "blind
index") under a separate key, so equal values can be found without decrypting.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

_FORMAT_VERSION = 1
_lock = threading.Lock()


class KeyringError(RuntimeError):
    """The key ring is missing a key needed to read a value, or is malformed."""


@dataclass(frozen=True)
class Keyring:
    """Data keys by id (newest is ``current``) plus the blind-index key."""

    keys: dict[int, bytes]
    current: int
    index_key: bytes

    @classmethod
    def generate(cls) -> Keyring:
        return cls(
            keys={1: AESGCM.generate_key(bit_length=256)}, current=1, index_key=os.urandom(32)
        )

    def with_new_key(self) -> Keyring:
        new_id = max(self.keys) + 1
        return Keyring(
            keys={**self.keys, new_id: AESGCM.generate_key(bit_length=256)},
            current=new_id,
            index_key=self.index_key,
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "current": self.current,
                "keys": {str(k): base64.b64encode(v).decode() for k, v in self.keys.items()},
                "index_key": base64.b64encode(self.index_key).decode(),
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        try:
            raw = json.loads(text)
            return cls(
                keys={int(k): base64.b64decode(v) for k, v in raw["keys"].items()},
                current=int(raw["current"]),
                index_key=base64.b64decode(raw["index_key"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyringError(f"malformed key ring: {exc}") from exc

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.to_json())
        os.replace(tmp, path)


_cached: tuple[str, Keyring] | None = None


def keyring() -> Keyring:
    """The key ring from ``settings.MINQING_KEYRING``, created on first use.

    Read once per process (the hot path must not touch the disk); a ciphertext naming a key
    this process has not seen makes ``decrypt`` read the file again, so a rotation done by
    another process is picked up without a restart.
    """
    global _cached
    path = Path(settings.MINQING_KEYRING)
    cached = _cached
    if cached is not None and cached[0] == str(path):
        return cached[1]
    with _lock:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            Keyring.generate().save(path)
        ring = Keyring.from_json(path.read_text())
        _cached = (str(path), ring)
        return ring


def forget_cached_keyring() -> None:
    """Re-read the key ring file on next use (after rotation or in tests)."""
    global _cached
    with _lock:
        _cached = None


@functools.lru_cache(maxsize=16)
def _aead(key: bytes) -> AESGCM:
    return AESGCM(key)


def encrypt(plaintext: str, ring: Keyring | None = None) -> bytes:
    """Seal ``plaintext``: version byte, key id (2 bytes), 12-byte nonce, ciphertext+tag."""
    ring = ring or keyring()
    nonce = os.urandom(12)
    header = bytes([_FORMAT_VERSION]) + ring.current.to_bytes(2, "big")
    sealed = _aead(ring.keys[ring.current]).encrypt(nonce, plaintext.encode(), header)
    return header + nonce + sealed


def key_id_of(blob: bytes) -> int:
    return int.from_bytes(bytes(blob[1:3]), "big")


def decrypt(blob: bytes, ring: Keyring | None = None) -> str:
    ring = ring or keyring()
    blob = bytes(blob)
    if len(blob) < 3 + 12 + 16 or blob[0] != _FORMAT_VERSION:
        raise KeyringError("not a Minqing ciphertext")
    key_id = key_id_of(blob)
    if key_id not in ring.keys:
        forget_cached_keyring()  # another process may have rotated the keys
        ring = keyring()
    if key_id not in ring.keys:
        raise KeyringError(f"key {key_id} is not in the key ring")
    try:
        return _aead(ring.keys[key_id]).decrypt(blob[3:15], blob[15:], blob[:3]).decode()
    except InvalidTag as exc:
        raise KeyringError(
            f"value sealed with key {key_id} fails authentication: wrong key "
            "ring, or the stored value was altered"
        ) from exc


def blind_index(value: str, purpose: str, ring: Keyring | None = None) -> str:
    """Keyed hash for exact lookup; ``purpose`` separates e.g. ID numbers from phones."""
    ring = ring or keyring()
    return hmac.new(ring.index_key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()
