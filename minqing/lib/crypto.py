"""Encryption at rest for personal data (SECURITY.md 9).

AES-256-GCM (authenticated) from ``cryptography``; the keys live in a key ring file outside the
database (``settings.MINQING_KEYRING``), never in a row. A ciphertext names the key that sealed
it, so keys can rotate: new writes use the newest key, old rows stay readable until
``minqing rotate_keys`` re-seals them.

Binding: a ciphertext (format 2) carries the row's random seal id (``SealIdField``) in its
header, and its associated data is that header plus the *context* (``table.column`` for a
field, ``file:store/path`` for a sealed file). A value moved to another field fails
authentication; a value moved to another row decrypts only under the seal id it names, which
then differs from the row's (``fields.EncryptedField`` refuses it).

Exact lookup uses a keyed hash (HMAC-SHA256, "blind index") under index keys that are
versioned like the data keys: new hashes use ``index_current``; a lookup asks for the hash
under every index key in the ring, so lookups keep working while ``rotate_keys`` rewrites the
hashes, and the old index key is dropped only when none is left (``rotate_keys --retire``).

Every process re-reads the ring when its file changes (one ``stat`` per seal or lookup), so a
gunicorn worker or the background worker seals with the new key as soon as it is written.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import functools
import hashlib
import hmac
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

_LEGACY_FORMAT = 1  # version, key id, nonce, ct+tag; AAD = the 3-byte header; no binding
_FORMAT_VERSION = 2  # version, key id, seal id (16), nonce, ct+tag; AAD = header + context
_HEADER = 3 + 16
NO_SEAL_ID = bytes(16)
_lock = threading.Lock()
_accept_unbound: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "minqing_accept_unbound", default=False
)


class KeyringError(RuntimeError):
    """The key ring is missing a key needed to read a value, or is malformed."""


class BindingError(KeyringError):
    """A stored value is sealed for another row or field than the one it was read from."""


@dataclass(frozen=True)
class Keyring:
    """Data keys by id (``current`` seals) plus the blind-index keys (``index_current``)."""

    keys: dict[int, bytes]
    current: int
    index_keys: dict[int, bytes]
    index_current: int

    @property
    def index_key(self) -> bytes:
        return self.index_keys[self.index_current]

    @classmethod
    def generate(cls) -> Keyring:
        return cls(
            keys={1: AESGCM.generate_key(bit_length=256)},
            current=1,
            index_keys={1: os.urandom(32)},
            index_current=1,
        )

    def with_new_key(self) -> Keyring:
        new_id = max(self.keys) + 1
        return Keyring(
            keys={**self.keys, new_id: AESGCM.generate_key(bit_length=256)},
            current=new_id,
            index_keys=self.index_keys,
            index_current=self.index_current,
        )

    def with_new_index_key(self) -> Keyring:
        new_id = max(self.index_keys) + 1
        return Keyring(
            keys=self.keys,
            current=self.current,
            index_keys={**self.index_keys, new_id: os.urandom(32)},
            index_current=new_id,
        )

    def retired(self) -> Keyring:
        """Only the current data and index keys (after every value was re-sealed under them)."""
        return Keyring(
            keys={self.current: self.keys[self.current]},
            current=self.current,
            index_keys={self.index_current: self.index_key},
            index_current=self.index_current,
        )

    def to_json(self) -> str:
        def b64(keys: dict[int, bytes]) -> dict[str, str]:
            return {str(k): base64.b64encode(v).decode() for k, v in keys.items()}

        return json.dumps(
            {
                "current": self.current,
                "keys": b64(self.keys),
                "index_current": self.index_current,
                "index_keys": b64(self.index_keys),
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        try:
            raw = json.loads(text)
            keys = {int(k): base64.b64decode(v) for k, v in raw["keys"].items()}
            if "index_keys" in raw:
                index_keys = {int(k): base64.b64decode(v) for k, v in raw["index_keys"].items()}
                index_current = int(raw["index_current"])
            else:  # a ring written before index keys were versioned
                index_keys = {1: base64.b64decode(raw["index_key"])}
                index_current = 1
            ring = cls(keys, int(raw["current"]), index_keys, index_current)
            ring.keys[ring.current], ring.index_keys[ring.index_current]  # noqa: B018
            return ring
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyringError(f"malformed key ring: {exc}") from exc

    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.to_json())
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)


@dataclass(frozen=True)
class _Cached:
    path: str
    stamp: tuple[int, int, int]
    ring: Keyring


_cached: _Cached | None = None


def _stamp(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def keyring() -> Keyring:
    """The key ring from ``settings.MINQING_KEYRING``, created on first use.

    Cached per process and re-read when the file changes (inode, mtime or size, one ``stat``
    per call), so a rotation written by another process is used by the next seal here.
    """
    global _cached
    path = str(settings.MINQING_KEYRING)
    cached = _cached
    try:
        stamp = _stamp(os.stat(path))
    except FileNotFoundError:
        stamp = None
    if cached is not None and cached.path == path and cached.stamp == stamp:
        return cached.ring
    with _lock:
        if stamp is None:
            Keyring.generate().save(Path(path))
        with open(path) as fh:
            text = fh.read()
            stamp = _stamp(os.fstat(fh.fileno()))
        ring = Keyring.from_json(text)
        _cached = _Cached(path, stamp, ring)
        return ring


def forget_cached_keyring() -> None:
    """Re-read the key ring file on next use (tests that swap files within one mtime tick)."""
    global _cached
    with _lock:
        _cached = None


@contextlib.contextmanager
def accepting_unbound() -> Iterator[None]:
    """Read format-1 values (sealed before row binding) too: for re-sealing them only."""
    token = _accept_unbound.set(True)
    try:
        yield
    finally:
        _accept_unbound.reset(token)


@functools.lru_cache(maxsize=16)
def _aead(key: bytes) -> AESGCM:
    return AESGCM(key)


def seal(
    data: bytes, *, context: str, seal_id: bytes = NO_SEAL_ID, ring: Keyring | None = None
) -> bytes:
    """Seal ``data`` for ``context`` (e.g. ``households_resident.id_number``) and a row.

    Layout: version byte, key id (2 bytes), seal id (16), 12-byte nonce, ciphertext+tag; the
    associated data is the header and the context, so neither can be changed or moved.
    """
    ring = ring or keyring()
    header = bytes([_FORMAT_VERSION]) + ring.current.to_bytes(2, "big") + seal_id
    nonce = os.urandom(12)
    aad = header + context.encode()
    return header + nonce + _aead(ring.keys[ring.current]).encrypt(nonce, data, aad)


def key_id_of(blob: bytes) -> int:
    return int.from_bytes(bytes(blob[1:3]), "big")


def seal_id_of(blob: bytes) -> bytes | None:
    """The seal id a format-2 value is bound to (None for a legacy, unbound value)."""
    blob = bytes(blob)
    return blob[3:_HEADER] if blob[:1] == bytes([_FORMAT_VERSION]) else None


def unseal(blob: bytes, *, context: str, ring: Keyring | None = None) -> bytes:
    """The plaintext bytes of a value sealed for ``context`` (its seal id: ``seal_id_of``)."""
    ring = ring or keyring()
    blob = bytes(blob)
    version = blob[0] if blob else None
    if version == _FORMAT_VERSION and len(blob) >= _HEADER + 12 + 16:
        header, nonce, body = blob[:_HEADER], blob[_HEADER : _HEADER + 12], blob[_HEADER + 12 :]
        aad = header + context.encode()
    elif version == _LEGACY_FORMAT and len(blob) >= 3 + 12 + 16:
        if not _accept_unbound.get():
            raise BindingError(
                f"{context}: value sealed without its row and field (format 1); "
                "run `minqing rotate_keys` to re-seal it"
            )
        header, nonce, body = blob[:3], blob[3:15], blob[15:]
        aad = header
    else:
        raise KeyringError(f"{context}: not a Minqing ciphertext")
    key_id = key_id_of(blob)
    if key_id not in ring.keys:
        forget_cached_keyring()
        ring = keyring()
    if key_id not in ring.keys:
        raise KeyringError(f"{context}: key {key_id} is not in the key ring")
    try:
        return _aead(ring.keys[key_id]).decrypt(nonce, body, aad)
    except InvalidTag as exc:
        raise KeyringError(
            f"{context}: value sealed with key {key_id} fails authentication: wrong key "
            "ring, a value moved from another field, or the stored value was altered"
        ) from exc


def encrypt(
    plaintext: str, ring: Keyring | None = None, *, context: str = "", seal_id: bytes = NO_SEAL_ID
) -> bytes:
    """``seal`` for text."""
    return seal(plaintext.encode(), context=context, seal_id=seal_id, ring=ring)


def decrypt(blob: bytes, ring: Keyring | None = None, *, context: str = "") -> str:
    """``unseal`` for text."""
    return unseal(blob, context=context, ring=ring).decode()


@functools.lru_cache(maxsize=16)
def _hmac_base(key: bytes) -> hmac.HMAC:
    return hmac.new(key, digestmod=hashlib.sha256)


def _mac(key: bytes, value: str, purpose: str) -> str:
    mac = _hmac_base(key).copy()
    mac.update(f"{purpose}:{value}".encode())
    return mac.hexdigest()


class Digest(str):
    """A blind index under the current index key that also knows its hashes under the ring's
    other index keys (``candidates``); ``BlindIndexField`` lookups match any of them."""

    candidates: tuple[str, ...]


def blind_index(value: str, purpose: str, ring: Keyring | None = None) -> Digest:
    """Keyed hash to store for exact lookup; ``purpose`` separates e.g. ID numbers from phones."""
    ring = ring or keyring()
    digest = Digest(_mac(ring.index_key, value, purpose))
    if len(ring.index_keys) == 1:
        digest.candidates = (str(digest),)
    else:
        digest.candidates = tuple(blind_indexes(value, purpose, ring))
    return digest


def blind_indexes(value: str, purpose: str, ring: Keyring | None = None) -> list[str]:
    """The hash of ``value`` under every index key in the ring (current first): look up with
    ``field__in=blind_indexes(...)`` so rows not yet rewritten by a rotation are found too."""
    ring = ring or keyring()
    keys = [ring.index_key] + [k for i, k in ring.index_keys.items() if i != ring.index_current]
    return [_mac(key, value, purpose) for key in keys]
