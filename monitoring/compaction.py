"""Closed days compacted into chunks, and read back as if they were still rows.

A narrow sample row costs ~88 bytes on disk; a chunk (monitoring/chunks.py)
holds a series' whole day in a few bytes per sample. Once a day can no longer
receive on-time data (it ended more than ROLLUP_LATE_SECONDS ago), upkeep
(``compact``) rewrites the rows of its partition into one chunk per series in
``monitoring_sample_chunk`` and empties the partition, in one transaction:
readers see either the rows or the chunks, never both nor neither.

Late data: a sample for a compacted day is written to that day's partition as
usual (the partition stays, empty), is read at once beside the chunks, and is
folded into them at the next upkeep (counted as ``late`` in its report).

Reads: every reader of samples names its relation with ``samples_from(lo,
hi)``. While [lo, hi] lies after every day that could be compacted, that is the
samples table itself, at no cost; otherwise it is the table plus the chunks of
that range decoded here and handed to PostgreSQL as arrays, so the reader's
own SQL (filters, buckets, aggregates) is the same over both.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import orjson
import psycopg
from django.conf import settings
from django.db import OperationalError, connection, transaction

from monitoring import chunks, partitions
from monitoring.pgcopy import PG_EPOCH_US, SAMPLE_ROW, SIGNATURE, BinaryCopy, pg_microseconds

logger = logging.getLogger(__name__)

SAMPLE_TABLE = "monitoring_sample"
CHUNK_TABLE = "monitoring_sample_chunk"
# runs: the samples one request carried for one series, as arrays (monitoring/storage.py writes them)
RUN_TABLE = "monitoring_sample_run"
# a run never crosses midnight nor spans more than this: readers look for runs starting this much before a range
MAX_RUN_SPAN = timedelta(minutes=10)
# roll-up refresh and compaction never interleave: both hold this advisory lock (rollups.LOCK_KEY)
LOCK_KEY = 0x726F6C6C7570
# how many samples one pass decodes and encodes at once (memory stays bounded on a large day)
PASS_SAMPLES = 2_000_000


@dataclass
class DayCompaction:
    day: date
    series: int = 0
    samples: int = 0  # rows of the partition moved into chunks
    late: int = 0  # of which, samples that arrived after the day had been compacted

    def as_dict(self) -> dict:
        return {"day": self.day.isoformat(), "series": self.series, "samples": self.samples, "late": self.late}


@dataclass
class CompactionResult:
    days: list[DayCompaction] = field(default_factory=list)
    busy: list[date] = field(default_factory=list)  # days left for next time (a lock was not free)

    @property
    def late(self) -> int:
        return sum(day.late for day in self.days)

    def as_dict(self) -> dict:
        return {"days": [d.as_dict() for d in self.days], "late": self.late, "busy": [d.isoformat() for d in self.busy]}

    def lines(self, *, dry_run: bool = False) -> list[str]:
        if dry_run:
            return [f"would compact {d.day}" for d in self.days]
        out = []
        for d in self.days:
            line = f"compacted {d.day}: {d.samples} samples of {d.series} series"
            out.append(line + (f" ({d.late} late sample{'s' if d.late != 1 else ''} folded in)" if d.late else ""))
        out += [f"compaction of {day} left for next time: it is busy" for day in self.busy]
        return out


def horizon(now: datetime | None = None) -> datetime:
    """Days ending at or before this instant are closed: they may be compacted, later ones never are."""
    now = min(now or datetime.now(UTC), datetime.now(UTC))
    closed = now - timedelta(seconds=settings.ROLLUP_LATE_SECONDS)
    return datetime.combine(partitions.day_of(closed), datetime.min.time(), UTC)


def pending_days(cursor, now: datetime | None = None) -> list[date]:
    """Closed days whose partition holds rows: never compacted, or late data to fold in."""
    limit = horizon(now)
    days = set()
    for table in (SAMPLE_TABLE, RUN_TABLE):
        for name, day in partitions.existing(cursor, table):
            if _midnight(day + timedelta(days=1)) > limit:
                break
            cursor.execute(f'SELECT EXISTS (SELECT 1 FROM "{name}")')
            if cursor.fetchone()[0]:
                days.add(day)
    return sorted(days)


def compact(now: datetime | None = None, *, dry_run: bool = False) -> CompactionResult:
    """Compact every closed day that holds rows (see the module doc); with ``dry_run``, only name them."""
    result = CompactionResult()
    with connection.cursor() as cursor:
        days = pending_days(cursor, now)
    for day in days:
        if dry_run:
            result.days.append(DayCompaction(day))
            continue
        try:
            done = compact_day(day)
        except (OperationalError, psycopg.errors.LockNotAvailable):
            logger.warning("compaction: %s is busy, compacting it next time", day)
            result.busy.append(day)
            continue
        if done is None:
            result.busy.append(day)
        elif done.samples:
            result.days.append(done)
    return result


def compact_day(day: date) -> DayCompaction | None:
    """Move the rows of ``day``'s partition into its chunks (merging into chunks already there).

    Writers into that day wait meanwhile (late data, rare); readers do not, until
    the partition is emptied at the very end. None when another upkeep holds the lock.
    """
    part = partitions.partition_name(SAMPLE_TABLE, day)
    run_part = partitions.partition_name(RUN_TABLE, day)
    report = DayCompaction(day)
    with transaction.atomic(), connection.cursor() as wrapper:
        cursor = wrapper.cursor
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_KEY])
        if not cursor.fetchone()[0]:
            return None
        cursor.execute("SET LOCAL lock_timeout = '10s'")
        partitions.forget(RUN_TABLE)
        partitions.ensure(cursor, RUN_TABLE, [day])
        partitions.ensure(cursor, SAMPLE_TABLE, [day])
        cursor.execute(f'LOCK TABLE "{part}", "{run_part}" IN SHARE MODE')
        partitions.forget(CHUNK_TABLE)
        partitions.ensure(cursor, CHUNK_TABLE, [day])
        chunk_part = partitions.partition_name(CHUNK_TABLE, day)
        cursor.execute(f'SELECT EXISTS (SELECT 1 FROM "{chunk_part}")')
        compacted_before = cursor.fetchone()[0]
        for sids, stamps, values in _series_batches(cursor, part, run_part):
            series = _merge_existing(cursor, chunk_part, sids, stamps, values)
            _write_chunks(cursor, chunk_part, day, series)
            report.series += len(series)
            report.samples += len(sids)
        if compacted_before:
            report.late = report.samples
        cursor.execute(f'TRUNCATE "{part}", "{run_part}"')
    return report


def _series_batches(cursor, part: str, run_part: str) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The day's rows and runs by (series, ts), in batches of whole series of about PASS_SAMPLES (ids, µs, values).

    Each batch is one binary COPY of a range of series ids, read whole before
    the caller writes anything (a connection runs nothing else during a COPY).
    """
    day = (
        f'(SELECT series_id, ts, value FROM "{part}" UNION ALL '
        f'SELECT r.series_id, u.ts, u.value FROM "{run_part}" r '
        "CROSS JOIN LATERAL unnest(r.ts, r.value) AS u(ts, value))"
    )
    cursor.execute(f"SELECT series_id, count(*) FROM {day} d GROUP BY 1 ORDER BY 1")
    counts = cursor.fetchall()
    first = 0
    while first < len(counts):
        last, rows = first, counts[first][1]
        while last + 1 < len(counts) and rows + counts[last + 1][1] <= PASS_SAMPLES:
            last += 1
            rows += counts[last][1]
        sql = (
            f"COPY (SELECT series_id, ts, value FROM {day} d WHERE series_id BETWEEN {int(counts[first][0])} "
            f"AND {int(counts[last][0])} ORDER BY series_id, ts) TO STDOUT (FORMAT BINARY)"
        )
        buffer = bytearray()
        with cursor.copy(sql) as copy:
            for data in copy:
                buffer += data
        whole = (len(buffer) - len(SIGNATURE)) // SAMPLE_ROW.itemsize * SAMPLE_ROW.itemsize
        yield _columns(
            np.frombuffer(bytes(buffer), dtype=SAMPLE_ROW, count=whole // SAMPLE_ROW.itemsize, offset=len(SIGNATURE))
        )
        first = last + 1


def _columns(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        rows["series_id"].astype(np.int64),
        rows["ts"].astype(np.int64) + PG_EPOCH_US,
        rows["value"].astype(np.float64),
    )


def _merge_existing(cursor, chunk_part: str, sids, stamps, values) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per series id, its samples sorted by (ts, value): these rows plus its chunk already stored, if any."""
    bounds = np.flatnonzero(np.diff(sids)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(sids)]])
    series = {int(sids[a]): (stamps[a:b], values[a:b]) for a, b in zip(starts, ends, strict=True)}
    cursor.execute(
        f'DELETE FROM "{chunk_part}" WHERE series_id = ANY(%s) RETURNING series_id, data', [list(series.keys())]
    )
    for series_id, data in cursor.fetchall():
        old_stamps, old_values = chunks.decode(bytes(data))
        new_stamps, new_values = series[series_id]
        series[series_id] = (np.concatenate([old_stamps, new_stamps]), np.concatenate([old_values, new_values]))
    for series_id, (ts, vs) in series.items():
        order = np.lexsort((vs, ts))  # by ts, then value: the tie-break every reader uses
        series[series_id] = (ts[order], vs[order])
    return series


_CHUNK_COLUMNS = [
    ("series_id", "int8"),
    ("day", "timestamptz"),
    ("first_ts", "timestamptz"),
    ("last_ts", "timestamptz"),
    ("last_value", "float8"),
    ("count", "int4"),
    ("data", "bytea"),
]


def _write_chunks(
    cursor,
    chunk_part: str,
    day: date,
    series: dict[int, tuple[np.ndarray, np.ndarray]],
    codec: int = chunks.DEFAULT_CODEC,
) -> None:
    """One chunk row per series (bench/storage.py compares another ``codec``)."""
    chunk_copy = BinaryCopy(f'"{chunk_part}"', _CHUNK_COLUMNS)
    midnight = pg_microseconds(_midnight(day))
    rows = [
        chunk_copy.row(
            series_id,
            midnight,
            int(stamps[0]) - PG_EPOCH_US,
            int(stamps[-1]) - PG_EPOCH_US,
            float(values[-1]),
            len(stamps),
            chunks.encode(stamps, values, codec),
        )
        for series_id, (stamps, values) in series.items()
    ]
    chunk_copy.write(cursor, rows)


# --- reading ---------------------------------------------------------------------------------------


def samples_from(lo: datetime, hi: datetime, series: list[int] | tuple[str, list] | None = None) -> str:
    """SQL naming a relation (series_id, ts, value) that holds every sample of [lo, hi]: rows, runs and chunks.

    ``series`` narrows which chunks are decoded: ids, or (SQL selecting ids, its
    params); None decodes the chunks of every series in the range. The relation
    may hold more than [lo, hi] (the reader filters as it always did).
    """
    # runs start at most MAX_RUN_SPAN before their last sample: constant bounds prune the partitions
    runs = (
        "SELECT r.series_id, u.ts, u.value FROM "
        f"{RUN_TABLE} r CROSS JOIN LATERAL unnest(r.ts, r.value) AS u(ts, value) "
        f"WHERE r.first_ts >= '{(lo - MAX_RUN_SPAN).isoformat()}' AND r.first_ts <= '{hi.isoformat()}'"
    )
    found = chunk_samples(lo, hi, series) if reaches_chunks(lo) else None
    if found is None:
        return f"(SELECT series_id, ts, value FROM {SAMPLE_TABLE} UNION ALL {runs})"
    sids, stamps, values = found
    arrays = ", ".join(
        f"'{{{orjson.dumps(array, option=orjson.OPT_SERIALIZE_NUMPY).decode()[1:-1]}}}'::{kind}[]"
        for array, kind in ((sids, "bigint"), (stamps, "bigint"), (values, "float8"))
    )
    # the older days first, as the partitions would be scanned: aggregates add up in the same order
    return (
        "(SELECT c.series_id, timestamptz '1970-01-01 00:00:00+00' + c.us * interval '1 microsecond' AS ts, c.value "
        f"FROM unnest({arrays}) AS c(series_id, us, value) "
        f"UNION ALL SELECT series_id, ts, value FROM {SAMPLE_TABLE} UNION ALL {runs})"
    )


def reaches_chunks(lo: datetime) -> bool:
    """Whether a range starting at ``lo`` may reach a compacted day (else chunks need no look-up)."""
    return lo < horizon()


def chunk_samples(
    lo: datetime, hi: datetime, series: list[int] | tuple[str, list] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The compacted samples of [lo, hi] (series ids, µs since the Unix epoch, values), None if there are none."""
    where, params = "", []
    if isinstance(series, tuple):
        where, params = f" AND series_id IN ({series[0]})", list(series[1])
    elif series is not None:
        where, params = " AND series_id = ANY(%s::bigint[])", [list(series)]
    first_day = _midnight(partitions.day_of(lo))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT series_id, data FROM {CHUNK_TABLE} "
            f"WHERE day >= %s AND day <= %s AND last_ts >= %s AND first_ts <= %s{where} ORDER BY series_id, day",
            [first_day, hi, lo, hi, *params],
        )
        rows = cursor.fetchall()
    if not rows:
        return None
    lo_us, hi_us = _micros(lo), _micros(hi)
    parts = []
    for series_id, data in rows:
        stamps, values = chunks.decode(bytes(data))
        keep = slice(np.searchsorted(stamps, lo_us, "left"), np.searchsorted(stamps, hi_us, "right"))
        parts.append((np.full(keep.stop - keep.start, series_id, dtype=np.int64), stamps[keep], values[keep]))
    return tuple(np.concatenate(column) for column in zip(*parts, strict=True))


def latest_compacted(ids: list[int]) -> dict[int, tuple[datetime, float]]:
    """The last compacted sample of each series that has chunks."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT ON (series_id) series_id, last_ts, last_value FROM {CHUNK_TABLE} "
            "WHERE series_id = ANY(%s::bigint[]) ORDER BY series_id, day DESC",
            [ids],
        )
        return {series_id: (ts, value) for series_id, ts, value in cursor.fetchall()}


def _micros(ts: datetime) -> int:
    return (ts - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _datetime(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
