"""Model fields for personal data: encrypted at rest, masked unless revealed.

``EncryptedField`` stores AES-GCM ciphertext (see ``minqing.lib.crypto``) and gives Python code a
``Sensitive`` value whose ``str()`` is the *masked* form, so a template, a serializer or a log
line that forgets about privacy still shows ``138****5678``. Only ``.reveal()`` yields the
plaintext, and pages call it only through the audited reveal service.

``BlindIndexField`` keeps the HMAC of its source field for exact lookup.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.query_utils import DeferredAttribute

from minqing.lib import crypto, masking

_MASKERS = {
    "id_number": masking.mask_id_number,
    "phone": masking.mask_phone,
    "text": masking.mask_text,
}


class Sensitive:
    """A personal-data value that prints masked; ``reveal()`` for the plaintext."""

    __slots__ = ("_value", "kind")

    def __init__(self, value: str, kind: str) -> None:
        self._value = value
        self.kind = kind

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


def plain(value: Sensitive | str | None) -> str:
    """The plaintext of a value that may or may not be wrapped."""
    if value is None:
        return ""
    return value.reveal() if isinstance(value, Sensitive) else str(value)


class _SensitiveAttribute(DeferredAttribute):
    """Wraps whatever is assigned, so even an unsaved instance prints masked."""

    def __set__(self, instance: models.Model, value: Any) -> None:
        if value is not None and not isinstance(value, (Sensitive, bytes, memoryview)):
            value = Sensitive(str(value), self.field.kind) if str(value) else None
        instance.__dict__[self.field.attname] = value


class EncryptedField(models.BinaryField):
    """Ciphertext column whose Python value is a ``Sensitive``."""

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

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Sensitive | None:
        if value is None:
            return None
        return Sensitive(crypto.decrypt(bytes(value)), self.kind)

    def to_python(self, value: Any) -> Sensitive | None:
        if value is None or isinstance(value, Sensitive):
            return value
        if isinstance(value, (bytes, memoryview)):
            return Sensitive(crypto.decrypt(bytes(value)), self.kind)
        return Sensitive(str(value), self.kind) if str(value) else None

    def get_prep_value(self, value: Any) -> bytes | None:
        text = plain(value)
        if not text:
            return None
        return crypto.encrypt(text)

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
        value = crypto.blind_index(text, self.purpose) if text else ""
        setattr(model_instance, self.attname, value)
        return value
