"""``minqing recount_menus [--campaign ID] [--fix]``: count each campaign's progress again from
its tasks and compare with the live counters; ``--fix`` writes the counted values."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Compare the campaigns' live progress counters with a count of their tasks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--campaign", type=int)
        parser.add_argument("--fix", action="store_true", help="write the counted values")

    def handle(self, *args: Any, **options: Any) -> None:
        from minqing.menus.models import Campaign
        from minqing.menus.services.campaigns import (
            PROGRESS_FIELDS,
            progress_differences,
            write_progress,
        )

        campaigns = Campaign.objects.order_by("pk")
        if options["campaign"]:
            campaigns = campaigns.filter(pk=options["campaign"])
            if not campaigns.exists():
                raise CommandError(f"No campaign {options['campaign']}.")
        wrong = 0
        for campaign in campaigns:
            diffs = progress_differences(campaign)
            for node_id, (live, counted) in diffs.items():
                fields = ", ".join(
                    f"{f} {a}→{b}"
                    for f, a, b in zip(PROGRESS_FIELDS, live, counted, strict=True)
                    if a != b
                )
                self.stdout.write(f"campaign {campaign.pk} node {node_id}: {fields}")
            wrong += len(diffs)
            if diffs and options["fix"]:
                write_progress(campaign)
            self.stdout.write(
                f"campaign {campaign.pk}: {len(diffs)} node(s) differ"
                + (" (fixed)" if diffs and options["fix"] else "")
            )
        if wrong and not options["fix"]:
            raise CommandError(f"{wrong} counter row(s) differ; --fix writes the counted values.")
