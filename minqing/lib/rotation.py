"""Key rotation for encrypted personal data and sealed files (docs/SECURITY-BAR.md §9).

``rotate_keys`` writes a key ring with a new data key and a new blind-index key first (every
running process picks it up at its next seal or lookup: ``crypto.keyring`` re-reads a changed
file), then re-seals every stored value and sealed file under the new data key and rewrites
every blind index under the new index key. Until that is done, both keys stay in the ring: old
values read with the old data key, lookups match the hash under either index key. A crash
midway leaves every row readable and findable; running again finishes the job.
``retire_old_keys`` re-seals stragglers (a row written by a process that had not yet seen the
new ring), checks that nothing is sealed or indexed under an old key, then removes the old keys.

Rows are rewritten with raw SQL, guarded by their old ciphertexts (a row edited meanwhile is
left to the edit, which sealed it with the new ring). A value whose ciphertext is bound to
another row or field is reported and left as it is: re-sealing it would launder the move.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.apps import apps as global_apps
from django.conf import settings
from django.db import connection, models, transaction

from minqing.lib import crypto, sealed_files
from minqing.lib.fields import BlindIndexField, EncryptedField, SealIdField

BATCH = 2000


@dataclass
class SealedModel:
    model: Any
    seal: SealIdField
    encrypted: list[EncryptedField]
    indexes: list[BlindIndexField]


@dataclass
class Report:
    rows: dict[str, int] = field(default_factory=dict)
    unreadable: dict[str, list[Any]] = field(default_factory=dict)
    changed_meanwhile: int = 0
    files: int = 0


def sealed_models(apps: Any = None, labels: tuple[str, ...] = ()) -> list[SealedModel]:
    """Every model with encrypted fields (or those named), its seal id and blind indexes."""
    out = []
    apps = apps or global_apps
    models = [apps.get_model(label) for label in labels] if labels else apps.get_models()
    for model in models:
        fields = model._meta.concrete_fields
        encrypted = [f for f in fields if isinstance(f, EncryptedField)]
        if not encrypted:
            continue
        seal = next(f for f in fields if isinstance(f, SealIdField))
        indexes = [f for f in fields if isinstance(f, BlindIndexField)]
        out.append(SealedModel(model, seal, encrypted, indexes))
    return out


def _column(field: Any) -> str:
    """A concrete field's column name (django-stubs types it optional)."""
    return str(field.column)


def encrypted_columns() -> list[tuple[type[models.Model], list[str]]]:
    """Every model with encrypted fields, and those fields' names."""
    return [(m.model, [f.name for f in m.encrypted]) for m in sealed_models()]


def _same(column: str) -> str:
    q = connection.ops.quote_name(column)
    return f"{q} IS %s" if connection.vendor == "sqlite" else f"{q} IS NOT DISTINCT FROM %s"


def reseal_model(
    sm: SealedModel, ring: crypto.Keyring, *, reindex: bool, new_seal_ids: bool = False
) -> tuple[int, list[Any], int]:
    """Re-seal the rows of one model whose values are not under ``ring.current`` (every row
    with a value when ``reindex`` or ``new_seal_ids``). Returns (rows rewritten, pks of
    unreadable rows, rows edited meanwhile)."""
    meta = sm.model._meta
    qn = connection.ops.quote_name
    table, pk = qn(meta.db_table), qn(_column(meta.pk))
    enc_cols = [_column(f) for f in sm.encrypted]
    select = ", ".join([pk, qn(_column(sm.seal)), *(qn(c) for c in enc_cols)])
    by_source = {f.source: f for f in sm.indexes}
    sets = [
        _column(sm.seal),
        *enc_cols,
        *(_column(by_source[f.name]) for f in sm.encrypted if f.name in by_source),
    ]
    update = (
        f"UPDATE {table} SET {', '.join(f'{qn(c)} = %s' for c in sets)} "  # noqa: S608
        f"WHERE {pk} = %s AND {' AND '.join(_same(c) for c in enc_cols)}"
    )
    rewritten, unreadable, meanwhile = 0, [], 0
    last: Any = None
    while True:
        with connection.cursor() as cursor:
            where = f"WHERE {pk} > %s " if last is not None else ""
            cursor.execute(
                f"SELECT {select} FROM {table} {where}ORDER BY {pk} LIMIT {BATCH}",  # noqa: S608
                [last] if last is not None else [],
            )
            rows = cursor.fetchall()
        if not rows:
            break
        last = rows[-1][0]
        params = []
        for pk_value, seal_raw, *blobs in rows:
            blobs = [bytes(b) if b is not None else None for b in blobs]
            if not new_seal_ids and not any(b is not None for b in blobs):
                continue
            seal = sm.seal.to_python(seal_raw) if seal_raw is not None else None
            stale = any(
                b is not None
                and (crypto.seal_id_of(b) is None or crypto.key_id_of(b) != ring.current)
                for b in blobs
            )
            if not (stale or reindex or new_seal_ids or seal is None):
                continue
            try:
                texts: list[str | None] = []
                for f, b in zip(sm.encrypted, blobs, strict=True):
                    if b is None:
                        texts.append(None)
                        continue
                    bound = crypto.seal_id_of(b)
                    if bound is not None and (seal is None or bound != seal.bytes):
                        raise crypto.BindingError(f"{f.context}: sealed for another row")
                    with crypto.accepting_unbound():
                        texts.append(crypto.decrypt(b, ring, context=f.context))
            except crypto.KeyringError:
                unreadable.append(pk_value)
                continue
            if seal is None or new_seal_ids:
                seal = uuid.uuid4()
            new = [sm.seal.get_db_prep_value(seal, connection)]
            new += [
                crypto.encrypt(t, ring, context=f.context, seal_id=seal.bytes) if t else None
                for f, t in zip(sm.encrypted, texts, strict=True)
            ]
            new += [
                str(crypto.blind_index(t, by_source[f.name].purpose, ring)) if t else ""
                for f, t in zip(sm.encrypted, texts, strict=True)
                if f.name in by_source
            ]
            params.append([*new, pk_value, *blobs])
        if params:
            with transaction.atomic(), connection.cursor() as cursor:
                for p in params:
                    cursor.execute(update, p)
                    if cursor.rowcount == 1:
                        rewritten += 1
                    else:
                        meanwhile += 1
    return rewritten, unreadable, meanwhile


def reseal_migration(*labels: str) -> Any:
    """A ``RunPython`` function giving every row of these models a fresh seal id and
    re-sealing its values bound to it (the migration that adds ``SealIdField``)."""

    def run(apps: Any, schema_editor: Any) -> None:
        reseal_everything(
            crypto.keyring(), reindex=False, apps=apps, labels=labels, new_seal_ids=True
        )

    return run


def reseal_everything(
    ring: crypto.Keyring,
    *,
    reindex: bool,
    apps: Any = None,
    labels: tuple[str, ...] = (),
    new_seal_ids: bool = False,
) -> Report:
    report = Report()
    for sm in sealed_models(apps, labels):
        n, bad, meanwhile = reseal_model(sm, ring, reindex=reindex, new_seal_ids=new_seal_ids)
        report.rows[sm.model._meta.label] = n
        if bad:
            report.unreadable[sm.model._meta.label] = bad
        report.changed_meanwhile += meanwhile
    if apps is None:
        for store in sealed_files.stores():
            for relative in store.files():
                try:
                    report.files += store.reseal(relative)
                except crypto.KeyringError:
                    report.unreadable.setdefault("files", []).append(f"{store.dirname}/{relative}")
    return report


def rotate_keys(*, index: bool = True) -> Report:
    """Add a new data key (and index key), re-seal every value, file and hash under them.

    The new key ring is written before any row changes, so a crash midway leaves rows sealed
    and hashed under either key, all readable and findable; running again finishes the job.
    """
    ring = crypto.keyring().with_new_key()
    if index:
        ring = ring.with_new_index_key()
    ring.save(Path(settings.MINQING_KEYRING))
    crypto.forget_cached_keyring()
    return reseal_everything(crypto.keyring(), reindex=index)


class StillInUse(RuntimeError):
    pass


def retire_old_keys() -> Report:
    """Re-seal stragglers, then drop every key but the current data and index keys.

    Refuses (``StillInUse``) while any value or file is unreadable or under an old key.
    """
    ring = crypto.keyring()
    report = reseal_everything(ring, reindex=False)
    old = keys_in_use() - {ring.current}
    files = {k for k in sealed_files.formats_in_files() if k != (2, ring.current)}
    if report.unreadable or old or files:
        raise StillInUse(
            f"not retiring: unreadable rows {report.unreadable}, values under keys "
            f"{sorted(old)}, files under {sorted(files)}"
        )
    if len(ring.keys) > 1 or len(ring.index_keys) > 1:
        ring.retired().save(Path(settings.MINQING_KEYRING))
        crypto.forget_cached_keyring()
    return report


def keys_in_use() -> set[int]:
    """Data key ids that still seal at least one stored value."""
    used: set[int] = set()
    for model, fields in encrypted_columns():
        table = connection.ops.quote_name(model._meta.db_table)
        for name in fields:
            column = connection.ops.quote_name(_column(model._meta.get_field(name)))
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")  # noqa: S608
                used.update(crypto.key_id_of(bytes(row[0])) for row in cursor.fetchall())
    return used
