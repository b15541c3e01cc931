"""A consistent online backup: database, sealed files, audit anchors; never the key ring."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from minqing.audit.actions import AuditAction
from minqing.audit.backup import BackupError, create_backup
from minqing.audit.services import audit_record


class Command(BaseCommand):
    help = (
        "Write one archive (tar, 0600) with a consistent snapshot of the database (SQLite "
        "backup API or pg_dump), the sealed files and the audit anchors, and a manifest. The "
        "key ring and the audit key are NOT included: back them up separately."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--out", help="archive path (default: minqing-backup-<time>.tar in the data dir)"
        )

    def handle(self, *args, **options):
        from django.conf import settings

        out = options["out"] or (
            Path(settings.DATA_DIR)
            / "backups"
            / f"minqing-backup-{timezone.now():%Y%m%dT%H%M%S}.tar"
        )
        try:
            manifest = create_backup(Path(out))
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        audit_record(
            action=AuditAction.BACKUP_CREATE,
            username="(command line)",
            detail={"archive": str(out), "rows": sum(manifest["tables"].values())},
        )
        self.stdout.write(
            f"backup written to {out}: {len(manifest['tables'])} tables, "
            f"{sum(manifest['tables'].values())} rows, {manifest['files']} sealed files, "
            f"audit trail {manifest['audit']['rows']} rows"
        )
        self.stdout.write(
            "The key ring (MINQING_KEYRING) and the audit key (MINQING_AUDIT_KEY) are not in "
            "the archive: keep their own backup apart from it, or the archive cannot be read."
        )
