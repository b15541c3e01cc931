"""Check the audit trail: every row's MAC, the sealed chain, and the anchors outside the
database."""

from django.core.management.base import BaseCommand, CommandError

from minqing.audit.services import seal_pending, verify_chain


class Command(BaseCommand):
    help = (
        "Verify that no audit row was edited, removed, reordered or cut from the end "
        "(seals the rows written since the worker last did, unless --no-seal)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-seal", action="store_true", help="only read: do not seal pending rows first"
        )

    def handle(self, *args, **options):
        if not options["no_seal"]:
            sealed = seal_pending(full=True)
            if sealed["sealed"]:
                self.stdout.write(f"sealed {sealed['sealed']} rows written since the last seal")
        report = verify_chain()
        if not report.ok:
            raise CommandError(report.summary())
        self.stdout.write(self.style.SUCCESS(report.summary()))
