"""Storage upkeep (every UPKEEP_INTERVAL_SECONDS) and retention (hourly).

Upkeep: day partitions PARTITION_PREMAKE_DAYS ahead for samples, log entries
and events (and the month partitions of the roll-ups), ingest receipts older
than INGEST_IDEMPOTENCY_SECONDS pruned, roll-ups refreshed, then closed days
compacted and late samples of compacted days folded in (monitoring/compaction.py).
Retention: whole partitions dropped once past RAW_RETENTION_DAYS (samples, their
compacted chunks, log entries, events), ROLLUP_1M_RETENTION_DAYS (1-minute
roll-ups) or ROLLUP_RETENTION_DAYS (1-hour roll-ups); never a row-by-row DELETE.
Then the size cap, STORAGE_MAX_BYTES (monitoring/capacity.py).
Both are safe to run twice or at once (advisory locks, IF NOT EXISTS, upserts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from monitoring import capacity, compaction, partitions, rollups

RECEIPT_CHUNK = 10_000


@dataclass
class UpkeepReport:
    dry_run: bool = False
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    receipts_pruned: int = 0
    rollups: rollups.RefreshResult | None = None
    compaction: compaction.CompactionResult | None = None
    capped: list[str] = field(default_factory=list)  # partitions dropped by the size cap

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "created": self.created,
            "dropped": self.dropped,
            "receipts_pruned": self.receipts_pruned,
            "rollups": self.rollups.as_dict() if self.rollups else None,
            "compaction": self.compaction.as_dict() if self.compaction else None,
            "capped": self.capped,
        }

    def lines(self) -> list[str]:
        verb = "would " if self.dry_run else ""
        out = [f"{verb}create partition {name}" for name in self.created]
        out += [f"{verb}drop partition {name}" for name in self.dropped]
        out += [f"{verb}drop partition {name} (over STORAGE_MAX_BYTES)" for name in self.capped]
        if self.receipts_pruned:
            out.append(f"{verb}prune {self.receipts_pruned} ingest receipts")
        if self.rollups is not None:
            r = self.rollups
            if r.busy:
                out.append("roll-ups: another upkeep is refreshing them, skipped")
            else:
                out.append(f"roll-ups: {r.minutes} minute and {r.hours} hour buckets recomputed")
        if self.compaction is not None:
            out += self.compaction.lines(dry_run=self.dry_run)
        return out or ["nothing to do"]


def upkeep(*, now: datetime | None = None, dry_run: bool = False, compact: bool = True) -> UpkeepReport:
    now = now or datetime.now(UTC)
    report = UpkeepReport(dry_run=dry_run)
    report.created = create_ahead(now, dry_run=dry_run)
    report.receipts_pruned = prune_receipts(now - timedelta(seconds=settings.INGEST_IDEMPOTENCY_SECONDS), dry_run)
    if not dry_run:
        # roll-ups first: the minutes of a day about to close are computed from its rows, not its chunks
        report.rollups = rollups.refresh()
    if compact:
        report.compaction = compaction.compact(now, dry_run=dry_run)
    return report


def retention(*, now: datetime | None = None, dry_run: bool = False) -> UpkeepReport:
    now = now or datetime.now(UTC)
    report = UpkeepReport(dry_run=dry_run)
    raw_cutoff = now - timedelta(days=settings.RAW_RETENTION_DAYS)
    cutoffs = {
        rollups.MINUTE_TABLE: now - timedelta(days=settings.ROLLUP_1M_RETENTION_DAYS),
        rollups.HOUR_TABLE: now - timedelta(days=settings.ROLLUP_RETENTION_DAYS),
    }
    with connection.cursor() as cursor:
        for table in (*partitions.PARTITIONED_TABLES, compaction.CHUNK_TABLE):
            report.dropped += partitions.drop_before(cursor, table, raw_cutoff, dry_run=dry_run)
        for table in partitions.ROLLUP_TABLES:
            report.dropped += partitions.drop_before(cursor, table, cutoffs[table], dry_run=dry_run)
    report.capped = capacity.enforce_cap(now, dry_run=dry_run)
    return report


def create_ahead(now: datetime, *, dry_run: bool = False) -> list[str]:
    """Partitions for today and PARTITION_PREMAKE_DAYS ahead, in every partitioned table."""
    today = partitions.day_of(now)
    days = [today + timedelta(days=i) for i in range(settings.PARTITION_PREMAKE_DAYS + 1)]
    created = []
    with transaction.atomic(), connection.cursor() as cursor:
        for table in partitions.PARTITIONED_TABLES + partitions.ROLLUP_TABLES:
            # another process may have dropped one: check the catalog, not this process's memory
            partitions.forget(table)
            created += partitions.ensure(cursor, table, days, dry_run=dry_run)
    return created


def prune_receipts(cutoff: datetime, dry_run: bool = False) -> int:
    """Forget ingest receipts older than the cutoff, in small batches so writers never wait long."""
    with connection.cursor() as cursor:
        if dry_run:
            cursor.execute("SELECT count(*) FROM monitoring_ingestreceipt WHERE created_at < %s", [cutoff])
            return cursor.fetchone()[0]
        pruned = 0
        while True:
            cursor.execute(
                """
                DELETE FROM monitoring_ingestreceipt WHERE key IN (
                    SELECT key FROM monitoring_ingestreceipt WHERE created_at < %s LIMIT %s
                )
                """,
                [cutoff, RECEIPT_CHUNK],
            )
            pruned += cursor.rowcount
            if cursor.rowcount < RECEIPT_CHUNK:
                return pruned
