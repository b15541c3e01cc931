"""Key rotation for encrypted personal data (SECURITY.md 9)."""

from __future__ import annotations

from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import transaction

from minqing.lib import crypto
from minqing.lib.fields import EncryptedField

BATCH = 2000


def encrypted_columns() -> list[tuple[type, list[str]]]:
    """Every model with encrypted fields, and those fields' names."""
    out = []
    for model in apps.get_models():
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedField)]
        if names:
            out.append((model, names))
    return out


def rotate_keys() -> dict[str, int]:
    """Add a new data key, re-seal every value under it, and keep the old keys for reading.

    The new key ring is written before any row changes, so a crash midway leaves rows sealed by
    either key, all still readable; running again finishes the job.
    """
    path = Path(settings.MINQING_KEYRING)
    ring = crypto.keyring().with_new_key()
    ring.save(path)
    crypto.forget_cached_keyring()
    counts: dict[str, int] = {}
    for model, fields in encrypted_columns():
        resealed = 0
        qs = model._default_manager.order_by("pk").values_list("pk", *fields)
        last = 0
        while True:
            rows = list(qs.filter(pk__gt=last)[:BATCH])
            if not rows:
                break
            last = rows[-1][0]
            with transaction.atomic():
                for pk, *values in rows:
                    # values_list runs from_db_value: Sensitive or None
                    changes = {f: v for f, v in zip(fields, values, strict=True) if v is not None}
                    if changes:
                        model._default_manager.filter(pk=pk).update(**changes)
                        resealed += 1
        counts[model._meta.label] = resealed
    return counts


def keys_in_use() -> set[int]:
    """Key ids that still seal at least one stored value."""
    used: set[int] = set()
    from django.db import connection

    for model, fields in encrypted_columns():
        table = model._meta.db_table
        for field in fields:
            column = model._meta.get_field(field).column
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")  # noqa: S608
                used.update(crypto.key_id_of(bytes(row[0])) for row in cursor.fetchall())
    return used
