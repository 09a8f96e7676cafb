"""manage.py upkeep [--retention] [--dry-run] [--rebuild-rollups DAYS]: storage upkeep on demand."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError

from monitoring import rollups, upkeep


class Command(BaseCommand):
    help = (
        "Create partitions ahead, prune ingest receipts and refresh roll-ups; with --retention also drop "
        "partitions past their retention. Prints what was created and dropped."
    )

    def add_arguments(self, parser):
        parser.add_argument("--retention", action="store_true", help="also drop expired partitions")
        parser.add_argument("--dry-run", action="store_true", help="say what would be created and dropped, do nothing")
        parser.add_argument(
            "--rebuild-rollups",
            type=int,
            metavar="DAYS",
            help="recompute every roll-up of the last DAYS days from raw samples (after a backfill)",
        )

    def handle(self, *args, retention: bool, dry_run: bool, rebuild_rollups: int | None, **options):
        reports = [upkeep.upkeep(dry_run=dry_run)]
        if retention:
            reports.append(upkeep.retention(dry_run=dry_run))
        for report in reports:
            for line in report.lines():
                self.stdout.write(line)
        if rebuild_rollups is not None:
            if rebuild_rollups <= 0:
                raise CommandError("--rebuild-rollups takes a positive number of days")
            if dry_run:
                self.stdout.write(f"would rebuild roll-ups of the last {rebuild_rollups} days")
                return
            now = datetime.now(UTC)
            start = now - timedelta(days=rebuild_rollups)
            result = rollups.rebuild(start, now + timedelta(minutes=1), self._progress(start, rebuild_rollups + 1))
            if self.stdout.isatty():
                self.stdout.write("")  # end the bar's line
            self.stdout.write(f"rebuilt {result.minutes} minute and {result.hours} hour buckets")

    def _progress(self, start: datetime, days: int):
        """A progress bar, a day per step: redrawn in place on a terminal, a line per tenth otherwise."""
        terminal = self.stdout.isatty()
        began = time.monotonic()
        shown = -1

        def progress(upto: datetime) -> None:
            nonlocal shown
            done = min(max(math.ceil((upto - start) / timedelta(days=1)), 1), days)
            tenth = done * 10 // days
            if not terminal and tenth == shown:
                return
            shown = tenth
            bar = "#" * (done * 30 // days)
            line = f"[{bar:<30}] {done}/{days} days, up to {upto:%Y-%m-%d %H:%M}, {time.monotonic() - began:.0f} s"
            self.stdout.write(("\r" if terminal else "") + line, ending="" if terminal else "\n")
            self.stdout.flush()

        return progress
