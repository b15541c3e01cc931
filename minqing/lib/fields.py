"""Model fields for personal data: encrypted at rest, masked unless revealed.

``EncryptedField`` stores AES-GCM ciphertext (see ``minqing.lib.crypto``) and gives Python code a
``Sensitive`` value whose ``str()`` is the *masked* form, so a template, a serializer or a log
line that forgets about privacy still shows ``138****5678``. Only ``.reveal()`` yields the
plaintext, and pages call it only through the audited reveal service.

Each value is bound to its row and field: the model has a ``SealIdField`` (a random UUID set
when the row is made), the ciphertext carries that seal id and is authenticated with
``table.column`` (see ``minqing.lib.crypto``). A ciphertext copied into another field fails
authentication when read; one copied into another row names a seal id that is not that row's,
and reading the attribute raises ``crypto.BindingError`` instead of showing the other person's
value.

``BlindIndexField`` keeps the HMAC of its source field for exact lookup; ``filter(hash=...)``
and ``filter(hash__in=...)`` with values from ``crypto.blind_index`` match the hash under every
index key of the ring, so lookups keep working while a rotation rewrites the hashes.
"""

from __future__ import annotations

import functools
import uuid
import weakref
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import lookups
from django.db.models.query_utils import DeferredAttribute

from minqing.lib import crypto, masking

_MASKERS = {
    "id_number": masking.mask_id_number,
    "phone": masking.mask_phone,
    "text": masking.mask_text,
}


class Sensitive:
    """A personal-data value that prints masked; ``reveal()`` for the plaintext."""

    __slots__ = ("_owner", "_value", "bound_to", "kind")

    def __init__(
        self, value: str, kind: str, *, bound_to: bytes | None = None, owner: Any = None
    ) -> None:
        self._value = value
        self.kind = kind
        # seal id of the ciphertext this was read from (b"" for a legacy, unbound one)
        self.bound_to = bound_to
        # the model instance it belongs to (weak), whose seal id it is sealed with when written
        self._owner = weakref.ref(owner) if owner is not None else None

    @property
    def owner(self) -> Any:
        return self._owner() if self._owner is not None else None

    def reveal(self) -> str:
        return self._value

    @property
    def masked(self) -> str:
        return _MASKERS[self.kind](self._value)

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"<Sensitive {self.kind} {self.masked}>"

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sensitive):
            return self._value == other._value
        if isinstance(other, str):
            return self._value == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_unpickle_sensitive, (self._value, self.kind, self.bound_to))


def _unpickle_sensitive(value: str, kind: str, bound_to: bytes | None) -> Sensitive:
    return Sensitive(value, kind, bound_to=bound_to)


def plain(value: Sensitive | str | None) -> str:
    """The plaintext of a value that may or may not be wrapped."""
    if value is None:
        return ""
    return value.reveal() if isinstance(value, Sensitive) else str(value)


@functools.cache
def _seal_field(model: type[models.Model]) -> SealIdField:
    for f in model._meta.concrete_fields:
        if isinstance(f, SealIdField):
            return f
    raise TypeError(f"{model._meta.label} has encrypted fields but no SealIdField")


def seal_id_bytes(instance: models.Model, *, create: bool = False) -> bytes:
    """The instance's seal id as 16 bytes (a fresh one when unset and ``create``)."""
    attname = _seal_field(type(instance)).attname
    value = instance.__dict__.get(attname) if attname in instance.__dict__ else None
    if attname not in instance.__dict__:
        value = getattr(instance, attname)  # deferred: load it
    if value is None:
        if not create:
            return b""
        value = uuid.uuid4()
        setattr(instance, attname, value)
    if not isinstance(value, uuid.UUID):
        value = uuid.UUID(str(value))
    return value.bytes


class _SensitiveAttribute(DeferredAttribute):
    """Wraps whatever is assigned, so even an unsaved instance prints masked; checks on every
    read that a value loaded from the database was sealed for this row."""

    field: EncryptedField

    def __set__(self, instance: models.Model, value: Any) -> None:
        if value is not None and not isinstance(value, (Sensitive, bytes, memoryview)):
            value = Sensitive(str(value), self.field.kind, owner=instance) if str(value) else None
        elif isinstance(value, Sensitive):
            owner = value.owner
            if owner is None and value.bound_to is not None:
                value._owner = weakref.ref(instance)  # just read from the database for it
            elif owner is not instance:  # a value taken from another row or typed in
                value = Sensitive(value.reveal(), value.kind, owner=instance)
        instance.__dict__[self.field.attname] = value

    def __get__(self, instance: models.Model | None, cls: Any = None) -> Any:
        value = super().__get__(instance, cls)
        if instance is not None and isinstance(value, Sensitive) and value.bound_to:
            if value.bound_to != seal_id_bytes(instance):
                raise crypto.BindingError(
                    f"{self.field.context} of {instance._meta.label} {instance.pk}: "
                    "the stored value is sealed for another row (moved or copied in the "
                    "database); it is not shown"
                )
        return value


class SealIdField(models.UUIDField):
    """A row's random identity that its encrypted values are bound to (set on creation).

    Not the primary key: it must exist before the INSERT that makes the row. Never edited;
    ``rotate_keys`` re-seals a row's values when it gives an old row one.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", uuid.uuid4)
        kwargs.setdefault("null", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)


if TYPE_CHECKING:  # django-stubs' generics: what is assigned, what is read (not bytes)
    _EncryptedBase = models.BinaryField[Sensitive | str | None, Sensitive]
else:
    _EncryptedBase = models.BinaryField


class EncryptedField(_EncryptedBase):
    """Ciphertext column whose Python value is a ``Sensitive``: the text it holds (a phone, an
    ID number, notes), masked wherever it is printed; assign a ``str`` or a ``Sensitive``."""

    descriptor_class = _SensitiveAttribute

    def __init__(self, *args: Any, kind: str = "text", **kwargs: Any) -> None:
        self.kind = kind
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        kwargs["editable"] = True
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> tuple[Any, ...]:
        name, path, args, kwargs = super().deconstruct()
        kwargs["kind"] = self.kind
        kwargs.pop("editable", None)
        return name, path, args, kwargs

    @property
    def context(self) -> str:
        """What the ciphertext is authenticated with besides the row: ``table.column``."""
        return f"{self.model._meta.db_table}.{self.column}"

    def open(self, blob: bytes | memoryview) -> Sensitive:
        """Decrypt a stored value; the result remembers the seal id it is bound to."""
        blob = bytes(blob)
        text = crypto.decrypt(blob, context=self.context)
        bound = crypto.seal_id_of(blob)
        return Sensitive(text, self.kind, bound_to=bound if bound is not None else b"")

    def seal_for(self, instance: models.Model, text: str) -> bytes:
        return crypto.encrypt(
            text, context=self.context, seal_id=seal_id_bytes(instance, create=True)
        )

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Sensitive | None:
        if value is None:
            return None
        return self.open(value)

    def to_python(self, value: Any) -> Sensitive | None:
        if value is None or isinstance(value, Sensitive):
            return value
        if isinstance(value, (bytes, memoryview)):
            return self.open(value)
        return Sensitive(str(value), self.kind) if str(value) else None

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = getattr(model_instance, self.attname)
        if isinstance(value, (bytes, memoryview)):
            return value
        text = plain(value)
        return self.seal_for(model_instance, text) if text else None

    def get_prep_value(self, value: Any) -> bytes | None:
        if isinstance(value, (bytes, memoryview)):
            return bytes(value)
        text = plain(value)
        if not text:
            return None
        owner = value.owner if isinstance(value, Sensitive) else None
        if owner is None:
            raise ValueError(
                f"{self.context}: an encrypted value is written through its row "
                "(save, bulk_create, bulk_update), never by QuerySet.update()"
            )
        return self.seal_for(owner, text)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if not prepared:
            value = self.get_prep_value(value)
        return connection.Database.Binary(value) if value is not None else None

    def value_to_string(self, obj: models.Model) -> str:
        return str(self.value_from_object(obj) or "")

    def formfield(self, **kwargs: Any) -> Any:
        from django import forms

        return forms.CharField(required=not self.blank, **kwargs)


class BlindIndexField(models.CharField):
    """HMAC of another field's normalised plaintext, kept in step on every save."""

    def __init__(self, *args: Any, source: str = "", purpose: str = "", **kwargs: Any) -> None:
        self.source = source
        self.purpose = purpose or source
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs.setdefault("editable", False)
        # No db_index here: on PostgreSQL it would add a useless LIKE (pattern_ops) index too.
        # Models declare a plain Meta index for each blind index instead.
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> tuple[Any, ...]:
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        kwargs["purpose"] = self.purpose
        return name, path, args, kwargs

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        text = plain(getattr(model_instance, self.source))
        value = str(crypto.blind_index(text, self.purpose)) if text else ""
        setattr(model_instance, self.attname, value)
        return value


def _plain_digests(value: Any) -> list[Any]:
    return list(getattr(value, "candidates", None) or [value])


@BlindIndexField.register_lookup
class _BlindExact(lookups.Exact):
    """``hash=blind_index(x)`` matches the hash under each index key of the ring."""

    def get_prep_lookup(self) -> Any:
        self.candidates = [str(c) for c in getattr(self.rhs, "candidates", ()) or ()]
        return super().get_prep_lookup()

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, Any]:
        if len(getattr(self, "candidates", ())) > 1:
            lhs_sql, lhs_params = self.process_lhs(compiler, connection)
            marks = ", ".join(["%s"] * len(self.candidates))
            return f"{lhs_sql} IN ({marks})", (*lhs_params, *self.candidates)
        return super().as_sql(compiler, connection)


@BlindIndexField.register_lookup
class _BlindIn(lookups.In):
    """``hash__in=[blind_index(x), ...]`` likewise."""

    def get_prep_lookup(self) -> Any:
        if not hasattr(self.rhs, "resolve_expression") and isinstance(self.rhs, (list, tuple, set)):
            self.rhs = [str(c) for value in self.rhs for c in _plain_digests(value)]
        return super().get_prep_lookup()


class RowsJSONField(models.JSONField):
    """A JSONField whose bulk inserts on PostgreSQL are plain VALUES rows.

    Django 5.2 sends a PostgreSQL bulk insert as ``UNNEST`` of one array a column; psycopg
    escapes a JSON array's text in Python, quote by quote, and a batch of 44 menu answers
    (about 700 bytes of JSON each) spent 3 ms of its 8 in that escaping. A field with its own
    placeholder keeps Django's VALUES form (``SQLInsertCompiler.assemble_as_sql``); the
    column, its lookups and what is stored are a JSONField's.
    """

    def get_placeholder(self, value: Any, compiler: Any, connection: Any) -> str:
        return "%s"
