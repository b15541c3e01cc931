"""Rebuild the similar-issue index (IssueTerm) from the open issues."""

import time

from django.core.management.base import BaseCommand

from minqing.issues.similarity import reindex_all


class Command(BaseCommand):
    help = "Rebuild the similar-issue term index from every open issue (one transaction)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(self, *args, **options):
        started = time.perf_counter()
        rows = reindex_all(batch_size=options["batch_size"])
        seconds = time.perf_counter() - started
        self.stdout.write(f"{rows} index rows written in {seconds:.1f} s")
