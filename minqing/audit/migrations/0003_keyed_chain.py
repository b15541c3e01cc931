"""The keyed, sealed chain (issue 10 item 4): rows signed with the audit key (HMAC), sealed by
the worker into one chain (``AuditSeal``), anchored outside the database.

Rows written before keep their content; the migration first checks their old SHA-256 chain
(and says whether it held), then signs and seals them in id order and writes the first anchor.
The append-only triggers are dropped for that one step and come back in 0004.
"""

import hashlib
import json

from django.db import migrations, models
from django.db.models import deletion

GENESIS = "0" * 64


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
    elif vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_event_no_change ON audit_auditevent")
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_auditevent")


def _legacy_digest(prev_hash, event):
    fields = {
        "at": event.at.isoformat(),
        "user_id": event.user_id_value,
        "username": event.username,
        "ip": event.ip,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object_repr": event.object_repr,
        "success": event.success,
        "detail": event.detail,
    }
    payload = json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256((prev_hash + payload).encode()).hexdigest()


def sign_and_seal_existing(apps, schema_editor):
    from django.utils import timezone

    from minqing.audit import chain
    from minqing.audit.keys import audit_keys

    AuditEvent = apps.get_model("audit", "AuditEvent")
    AuditSeal = apps.get_model("audit", "AuditSeal")
    AuditHead = apps.get_model("audit", "AuditHead")
    if not AuditEvent.objects.exists():
        return
    keys = audit_keys()
    prev_hash, legacy = GENESIS, "intact"
    prev_mac, position, now, last = GENESIS, 0, timezone.now(), None
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        if legacy == "intact":
            if event.prev_hash != prev_hash or event.hash != _legacy_digest(prev_hash, event):
                legacy = f"broken at row {event.pk}"
            prev_hash = event.hash
        event.at = event.at.replace(microsecond=event.at.microsecond // 1000 * 1000)
        event.nonce = f"legacy-{event.pk}"
        event.key_id = keys.current
        event.mac = chain.event_mac(event, keys)
        event.save(update_fields=["at", "nonce", "key_id", "mac"])
        position += 1
        mac = chain.seal_mac(keys, keys.current, prev_mac, position, event.pk, event.mac)
        last = AuditSeal.objects.create(
            position=position, event_id=event.pk, key_id=keys.current, mac=mac, sealed_at=now
        )
        prev_mac = mac
    head = AuditHead.objects.filter(pk=1).first()
    if legacy == "intact" and head is not None and head.last_hash != prev_hash:
        legacy = "newest rows missing (head does not match the last row)"
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    chain.write_anchor(last, rows=position)
    print(f"\n  audit: {position} existing rows signed and sealed; their SHA-256 chain: {legacy}")


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only")]

    operations = [
        migrations.RunPython(drop_triggers, migrations.RunPython.noop),
        migrations.AddField(
            model_name="auditevent",
            name="nonce",
            field=models.CharField(default="", max_length=32),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="key_id",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="mac",
            field=models.CharField(default="", max_length=64),
        ),
        migrations.CreateModel(
            name="AuditSeal",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("position", models.BigIntegerField(unique=True)),
                ("key_id", models.PositiveSmallIntegerField()),
                ("mac", models.CharField(max_length=64)),
                ("sealed_at", models.DateTimeField()),
                (
                    "event",
                    models.OneToOneField(
                        on_delete=deletion.PROTECT, related_name="seal", to="audit.auditevent"
                    ),
                ),
            ],
            options={"ordering": ["position"], "default_permissions": ()},
        ),
        migrations.RunPython(sign_and_seal_existing, migrations.RunPython.noop),
    ]
