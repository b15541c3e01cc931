"""Encryption at rest for personal data (docs/SECURITY-BAR.md §9).

An authenticated cipher from ``cryptography``: SM4-GCM (GB/T 32907 SM4 in GCM mode, 16-byte
tag; GB/T 39786) where the running OpenSSL has it, else AES-256-GCM. Each key in the ring
records its algorithm (``algorithms``; a key without one, from a ring written before SM4, is
AES-256-GCM); a new ring or ``rotate_keys`` makes an SM4-GCM key when ``sm4_gcm_available()``
(encrypts and opens the RFC 8998 A.1 vector once per process), so old values keep reading under
their AES key and a rotation moves them to SM4. The keys live in a key ring file outside the
database (``settings.MINQING_KEYRING``), never in a row. A ciphertext names the key that sealed
it, so keys can rotate: new writes use the newest key, old rows stay readable until
``minqing rotate_keys`` re-seals them.

Binding: a ciphertext (format 2) carries the row's random seal id (``SealIdField``) in its
header, and its associated data is that header plus the *context* (``table.column`` for a
field, ``file:store/path`` for a sealed file). A value moved to another field fails
authentication; a value moved to another row decrypts only under the seal id it names, which
then differs from the row's (``fields.EncryptedField`` refuses it). Under an SM4-GCM key the
associated data also ends with ``\\0sm4-gcm`` (the algorithm is implied by the key id; this binds
it too, AES values keep their associated data as it was).

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
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

log = logging.getLogger("minqing.crypto")

AES_256_GCM = "aes-256-gcm"
SM4_GCM = "sm4-gcm"
KEY_BYTES = {AES_256_GCM: 32, SM4_GCM: 16}
#: appended to the associated data under a key of this algorithm (AES: none, as before SM4)
_ALGORITHM_AAD = {AES_256_GCM: b"", SM4_GCM: b"\0sm4-gcm"}
_TAG = 16

_LEGACY_FORMAT = 1  # version, key id, nonce, ct+tag; AAD = the 3-byte header; no binding
FORMAT_VERSION = 2  # version, key id, seal id (16), nonce, ct+tag; AAD = header + context
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


class Aead(Protocol):
    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes) -> bytes: ...
    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes) -> bytes: ...


class SM4GCM:
    """SM4 (GB/T 32907) in GCM mode with a 16-byte tag, with ``AESGCM``'s interface.

    ``cryptography`` has no SM4 AEAD class, so this is ``Cipher(SM4, GCM)``: the associated
    data through ``authenticate_additional_data``, the tag appended to the ciphertext like
    ``AESGCM`` does, and on opening a tag shorter than 16 bytes refused. The keyed ``SM4``
    algorithm object is reused; a ``Cipher`` is per nonce by construction.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES[SM4_GCM]:
            raise ValueError("SM4 keys are 16 bytes")
        self._algorithm = algorithms.SM4(key)

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes) -> bytes:
        if len(nonce) != 12:
            raise ValueError("nonce must be 12 bytes")
        enc = Cipher(self._algorithm, modes.GCM(nonce)).encryptor()
        enc.authenticate_additional_data(associated_data)
        body = enc.update(data) + enc.finalize()
        return body + enc.tag

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes) -> bytes:
        if len(nonce) != 12 or len(data) < _TAG:
            raise InvalidTag
        body, tag = data[:-_TAG], data[-_TAG:]
        dec = Cipher(self._algorithm, modes.GCM(nonce, tag, min_tag_length=_TAG)).decryptor()
        dec.authenticate_additional_data(associated_data)
        return dec.update(body) + dec.finalize()


#: RFC 8998 appendix A.1 (SM4-GCM): key, nonce, associated data, plaintext, ciphertext + tag
RFC8998_A1 = tuple(
    bytes.fromhex(h)
    for h in (
        "0123456789ABCDEFFEDCBA9876543210",
        "00001234567800000000ABCD",
        "FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2",
        "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
        "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
        "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
        "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
        "83DE3541E4C2B58177E065A9BF7B62EC",
    )
)


@functools.cache
def sm4_gcm_available() -> bool:
    """Whether this ``cryptography``/OpenSSL seals and opens SM4-GCM (the RFC 8998 vector)."""
    key, nonce, aad, plain, sealed = RFC8998_A1
    try:
        aead = SM4GCM(key)
        return (
            aead.encrypt(nonce, plain, aad) == sealed and aead.decrypt(nonce, sealed, aad) == plain
        )
    except (UnsupportedAlgorithm, AttributeError, ValueError, InvalidTag):
        return False


def preferred_algorithm() -> str:
    """The algorithm of a new key: SM4-GCM where this process has it, else AES-256-GCM."""
    return SM4_GCM if sm4_gcm_available() else AES_256_GCM


def _new_key(algorithm: str) -> bytes:
    return os.urandom(KEY_BYTES[algorithm])


@dataclass(frozen=True)
class Keyring:
    """Data keys by id (``current`` seals) plus the blind-index keys (``index_current``)."""

    keys: dict[int, bytes]
    current: int
    index_keys: dict[int, bytes]
    index_current: int
    #: data key id -> ``SM4_GCM`` or ``AES_256_GCM``; a key not named here is AES-256-GCM
    algorithms: dict[int, str] = field(default_factory=dict)

    @property
    def index_key(self) -> bytes:
        return self.index_keys[self.index_current]

    def algorithm(self, key_id: int | None = None) -> str:
        """The cipher of data key ``key_id`` (default: the current key)."""
        return self.algorithms.get(self.current if key_id is None else key_id, AES_256_GCM)

    @classmethod
    def generate(cls, algorithm: str | None = None) -> Keyring:
        algorithm = algorithm or preferred_algorithm()
        return cls(
            keys={1: _new_key(algorithm)},
            current=1,
            index_keys={1: os.urandom(32)},
            index_current=1,
            algorithms={1: algorithm},
        )

    def with_new_key(self, algorithm: str | None = None) -> Keyring:
        algorithm = algorithm or preferred_algorithm()
        new_id = max(self.keys) + 1
        return Keyring(
            keys={**self.keys, new_id: _new_key(algorithm)},
            current=new_id,
            index_keys=self.index_keys,
            index_current=self.index_current,
            algorithms={**self._named_algorithms(), new_id: algorithm},
        )

    def _named_algorithms(self) -> dict[int, str]:
        return {k: self.algorithm(k) for k in self.keys}

    def with_new_index_key(self) -> Keyring:
        new_id = max(self.index_keys) + 1
        return Keyring(
            keys=self.keys,
            current=self.current,
            index_keys={**self.index_keys, new_id: os.urandom(32)},
            index_current=new_id,
            algorithms=self._named_algorithms(),
        )

    def retired(self) -> Keyring:
        """Only the current data and index keys (after every value was re-sealed under them)."""
        return Keyring(
            keys={self.current: self.keys[self.current]},
            current=self.current,
            index_keys={self.index_current: self.index_key},
            index_current=self.index_current,
            algorithms={self.current: self.algorithm()},
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
                "algorithms": {str(k): v for k, v in self._named_algorithms().items()},
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
            named = {int(k): str(v) for k, v in raw.get("algorithms", {}).items()}
            ring = cls(keys, int(raw["current"]), index_keys, index_current, named)
            ring.keys[ring.current], ring.index_keys[ring.index_current]  # noqa: B018
            for key_id, key in keys.items():
                algorithm = ring.algorithm(key_id)
                if KEY_BYTES.get(algorithm) != len(key):
                    raise ValueError(f"key {key_id}: {len(key)} bytes is no {algorithm} key")
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
        _log_cipher(ring)
        return ring


def _log_cipher(ring: Keyring) -> None:
    """Say at start (and after a rotation) which cipher seals, and whether SM4 is here."""
    algorithm = ring.algorithm()
    if algorithm == SM4_GCM and not sm4_gcm_available():
        log.error(
            "personal data: the key ring's current key %s is SM4-GCM, which this "
            "cryptography/OpenSSL cannot run: nothing can be sealed or read here",
            ring.current,
        )
        return
    log.info(
        "personal data sealed with %s (data key %s; SM4-GCM %s here)",
        algorithm.upper(),
        ring.current,
        "available" if sm4_gcm_available() else "NOT available",
    )


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
def _cipher(algorithm: str, key: bytes) -> Aead:
    if algorithm == SM4_GCM:
        return SM4GCM(key)
    return AESGCM(key)


def cipher_for(ring: Keyring, key_id: int) -> tuple[Aead, bytes]:
    """The keyed cipher of data key ``key_id`` and what its associated data ends with."""
    algorithm = ring.algorithm(key_id)
    try:
        return _cipher(algorithm, ring.keys[key_id]), _ALGORITHM_AAD[algorithm]
    except UnsupportedAlgorithm as exc:
        raise KeyringError(
            f"key {key_id} is {algorithm}, which this cryptography/OpenSSL cannot run"
        ) from exc


def seal(
    data: bytes, *, context: str, seal_id: bytes = NO_SEAL_ID, ring: Keyring | None = None
) -> bytes:
    """Seal ``data`` for ``context`` (e.g. ``households_resident.id_number``) and a row.

    Layout: version byte, key id (2 bytes), seal id (16), 12-byte nonce, ciphertext+tag; the
    associated data is the header and the context, so neither can be changed or moved.
    """
    ring = ring or keyring()
    aead, suffix = cipher_for(ring, ring.current)
    header = bytes([FORMAT_VERSION]) + ring.current.to_bytes(2, "big") + seal_id
    nonce = os.urandom(12)
    aad = header + context.encode() + suffix
    return header + nonce + aead.encrypt(nonce, data, aad)


def key_id_of(blob: bytes) -> int:
    return int.from_bytes(bytes(blob[1:3]), "big")


def seal_id_of(blob: bytes) -> bytes | None:
    """The seal id a format-2 value is bound to (None for a legacy, unbound value)."""
    blob = bytes(blob)
    return blob[3:_HEADER] if blob[:1] == bytes([FORMAT_VERSION]) else None


def unseal(blob: bytes, *, context: str, ring: Keyring | None = None) -> bytes:
    """The plaintext bytes of a value sealed for ``context`` (its seal id: ``seal_id_of``)."""
    ring = ring or keyring()
    blob = bytes(blob)
    version = blob[0] if blob else None
    if version == FORMAT_VERSION and len(blob) >= _HEADER + 12 + 16:
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
    aead, suffix = cipher_for(ring, key_id)
    try:
        return aead.decrypt(nonce, body, aad + suffix)
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
