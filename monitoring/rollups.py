"""Roll-ups of samples: 1-minute and 1-hour buckets per series (min, max, sum, count, last).

How they stay current, at a cost proportional to new data:

1. The writer, in the same statement as the samples (monitoring/storage.py),
   appends the minute buckets the batch touched to ``monitoring_rollupdirty``,
   however old: a backfill is rolled up like live data (ingest refuses
   samples older than the raw retention, so a replay cannot queue more).
2. Upkeep (``refresh``) claims the queued buckets, recomputes each minute from
   the raw samples and upserts it, then recomputes the hours those minutes
   belong to from the minute roll-ups. Minutes of closed days (which may be
   compacted, monitoring/compaction.py) are recomputed a series-day at a
   time from the rows and chunks together.

Recomputing from raw (never adding deltas) makes it idempotent: running twice
gives the same rows, and a bucket queued twice is computed once per pass.
A transaction-level advisory lock keeps two upkeeps from interleaving (one
skips, the queue keeps its work for the next run). The queue has no unique
key, so concurrent writers never wait on each other; a bucket queued by a
writer still in flight is invisible to the claim and is handled next time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction

from monitoring import compaction, partitions

MINUTE_TABLE = "monitoring_rollup1m"
HOUR_TABLE = "monitoring_rollup1h"
DIRTY_TABLE = "monitoring_rollupdirty"
# pg_advisory lock key of the refresh ("rollup" in ASCII), shared with compaction: they never interleave
LOCK_KEY = compaction.LOCK_KEY

_UPSERT = """
ON CONFLICT (series_id, bucket) DO UPDATE SET
    min = EXCLUDED.min, max = EXCLUDED.max, sum = EXCLUDED.sum, count = EXCLUDED.count,
    last = EXCLUDED.last, last_ts = EXCLUDED.last_ts
"""

# the same tie-break everywhere: the latest sample, and of two at the same instant the larger value
_MINUTES_FROM_RAW = f"""
INSERT INTO {MINUTE_TABLE} (series_id, bucket, min, max, sum, count, last, last_ts)
SELECT t.series_id, t.bucket, a.min, a.max, a.sum, a.count, a.last, a.last_ts
FROM (SELECT * FROM rollup_touched WHERE bucket >= %s) t CROSS JOIN LATERAL (
    SELECT min(s.value) AS min, max(s.value) AS max, sum(s.value) AS sum, count(*) AS count,
           (array_agg(s.value ORDER BY s.ts DESC, s.value DESC))[1] AS last, max(s.ts) AS last_ts
    FROM (
        SELECT ts, value FROM monitoring_sample
        WHERE series_id = t.series_id AND ts >= t.bucket AND ts < t.bucket + interval '1 minute'
        UNION ALL
        SELECT u.ts, u.value FROM {compaction.RUN_TABLE} r CROSS JOIN LATERAL unnest(r.ts, r.value) AS u(ts, value)
        WHERE r.series_id = t.series_id
          AND r.first_ts >= t.bucket - interval '{compaction.MAX_RUN_SPAN.seconds} seconds'
          AND r.first_ts < t.bucket + interval '1 minute' AND u.ts >= t.bucket AND u.ts < t.bucket + interval '1 minute'
    ) s
) a
WHERE a.count > 0
{_UPSERT}
"""

# every minute of [lo, hi) from the samples relation (monitoring.compaction.samples_from), formatted in
_MINUTES_OF_RANGE = f"""
INSERT INTO {MINUTE_TABLE} (series_id, bucket, min, max, sum, count, last, last_ts)
SELECT series_id, date_bin('1 minute', ts, timestamptz '1970-01-01 00:00:00+00'),
       min(value), max(value), sum(value), count(*),
       (array_agg(value ORDER BY ts DESC, value DESC))[1], max(ts)
FROM {{samples}} x WHERE ts >= %s AND ts < %s {{series}}
GROUP BY 1, 2
{_UPSERT}
"""

_HOURS_FROM_MINUTES = f"""
INSERT INTO {HOUR_TABLE} (series_id, bucket, min, max, sum, count, last, last_ts)
SELECT h.series_id, h.bucket, a.min, a.max, a.sum, a.count, a.last, a.last_ts
FROM (SELECT DISTINCT series_id, date_trunc('hour', bucket, 'UTC') AS bucket FROM rollup_touched) h
CROSS JOIN LATERAL (
    SELECT min(m.min) AS min, max(m.max) AS max, sum(m.sum) AS sum, sum(m.count)::bigint AS count,
           (array_agg(m.last ORDER BY m.last_ts DESC, m.last DESC))[1] AS last, max(m.last_ts) AS last_ts
    FROM {MINUTE_TABLE} m
    WHERE m.series_id = h.series_id AND m.bucket >= h.bucket AND m.bucket < h.bucket + interval '1 hour'
) a
WHERE a.count > 0
{_UPSERT}
"""


@dataclass
class RefreshResult:
    minutes: int = 0
    hours: int = 0
    passes: int = 0
    busy: bool = False  # another refresh held the lock: nothing done, nothing lost
    pending: bool = False  # the queue was not emptied within this run's passes

    def as_dict(self) -> dict:
        return {
            "minutes": self.minutes,
            "hours": self.hours,
            "passes": self.passes,
            "busy": self.busy,
            "pending": self.pending,
        }


def refresh(*, chunk: int = 100_000, max_passes: int = 20) -> RefreshResult:
    """Recompute the queued minute buckets from raw samples, then their hours; see the module doc."""
    result = RefreshResult()
    while result.passes < max_passes:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_KEY])
            if not cursor.fetchone()[0]:
                result.busy = True
                return result
            # (IF NOT EXISTS and TRUNCATE: inside an outer transaction there was no commit to drop it)
            cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS rollup_touched (series_id bigint, bucket timestamptz) ON COMMIT DROP"
            )
            cursor.execute("TRUNCATE rollup_touched")
            # claimed by (series, bucket), not by ctid: rows keep no physical address on a
            # distributed table (Citus), and a bucket queued twice is claimed, and computed, once
            cursor.execute(
                f"""
                WITH picked AS (SELECT DISTINCT series_id, bucket FROM {DIRTY_TABLE} LIMIT %s),
                claimed AS (
                    DELETE FROM {DIRTY_TABLE} d USING picked p
                    WHERE d.series_id = p.series_id AND d.bucket = p.bucket
                    RETURNING d.series_id, d.bucket
                )
                INSERT INTO rollup_touched SELECT DISTINCT series_id, bucket FROM claimed
                """,
                [chunk],
            )
            claimed = cursor.rowcount
            if claimed == 0:
                return result
            result.passes += 1
            cursor.execute("ANALYZE rollup_touched")
            cursor.execute("SELECT DISTINCT (bucket AT TIME ZONE 'UTC')::date FROM rollup_touched")
            _ensure_partitions(cursor, [row[0] for row in cursor.fetchall()])
            closed = compaction.horizon()
            result.minutes += _minutes_of_closed_days(cursor, closed)
            cursor.execute(_MINUTES_FROM_RAW, [closed])
            result.minutes += cursor.rowcount
            cursor.execute(_HOURS_FROM_MINUTES)
            result.hours += cursor.rowcount
    result.pending = True
    return result


def _minutes_of_closed_days(cursor, closed: datetime) -> int:
    """Recompute the minutes of the touched series of each touched day before ``closed`` (rows and chunks)."""
    cursor.execute(
        "SELECT (bucket AT TIME ZONE 'UTC')::date, array_agg(DISTINCT series_id) FROM rollup_touched "
        "WHERE bucket < %s GROUP BY 1 ORDER BY 1",
        [closed],
    )
    minutes = 0
    for day, ids in cursor.fetchall():
        lo = datetime(day.year, day.month, day.day, tzinfo=UTC)
        hi = lo + timedelta(days=1)
        cursor.execute(
            _MINUTES_OF_RANGE.format(samples=compaction.samples_from(lo, hi, ids), series="AND series_id = ANY(%s)"),
            [lo, hi, ids],
        )
        minutes += cursor.rowcount
    return minutes


def rebuild(start: datetime, end: datetime, progress: Callable[[datetime], None] | None = None) -> RefreshResult:
    """Recompute every roll-up bucket of [start, end) from raw samples, a day at a time (backfills, benchmark).

    ``progress`` is called with the end of each day done.
    """
    result = RefreshResult()
    start = start.astimezone(UTC).replace(second=0, microsecond=0, minute=0)
    day = start
    while day < end:
        upto = min(day + timedelta(days=1), end)
        with transaction.atomic(), connection.cursor() as cursor:
            _ensure_partitions(cursor, [day.date(), (upto - timedelta(microseconds=1)).date()])
            cursor.execute(_MINUTES_OF_RANGE.format(samples=compaction.samples_from(day, upto), series=""), [day, upto])
            result.minutes += cursor.rowcount
            cursor.execute(
                f"""
                INSERT INTO {HOUR_TABLE} (series_id, bucket, min, max, sum, count, last, last_ts)
                SELECT series_id, date_trunc('hour', bucket, 'UTC'), min(min), max(max), sum(sum), sum(count)::bigint,
                       (array_agg(last ORDER BY last_ts DESC, last DESC))[1], max(last_ts)
                FROM {MINUTE_TABLE} WHERE bucket >= date_trunc('hour', %s::timestamptz, 'UTC') AND bucket < %s
                GROUP BY 1, 2
                {_UPSERT}
                """,
                [day, _ceil_hour(upto)],
            )
            result.hours += cursor.rowcount
        result.passes += 1
        day = upto
        if progress is not None:
            progress(day)
    return result


def _ceil_hour(ts: datetime) -> datetime:
    floor = ts.replace(minute=0, second=0, microsecond=0)
    return floor if floor == ts else floor + timedelta(hours=1)


def _ensure_partitions(cursor, days: list[date]) -> None:
    for table in partitions.ROLLUP_TABLES:
        # upkeep runs rarely: check the catalog rather than trust this process's memory
        partitions.forget(table)
        partitions.ensure(cursor, table, days)
