"""Recompute the audit hash chain and report the first row that breaks it."""

from django.core.management.base import BaseCommand, CommandError

from minqing.audit.services import verify_chain


class Command(BaseCommand):
    help = "Verify that no audit row was edited, removed or reordered."

    def handle(self, *args, **options):
        checked, problem = verify_chain()
        if problem:
            raise CommandError(f"audit chain broken after {checked} good rows: {problem}")
        self.stdout.write(self.style.SUCCESS(f"audit chain intact: {checked} rows"))
