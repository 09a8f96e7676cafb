"""The one write path into the store: normalized records in, COPY in one transaction out.

Every wire format (ingest/*) turns a request into a ``Batch`` (monitoring/records.py) and calls
``write``. Series ids come from an in-process cache; unknown series are
created in one upsert. Samples, log entries and events are written with binary
COPY into their day partitions, all in one transaction: when ``write`` returns,
everything is committed; when it raises, nothing is stored.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
import psycopg
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from psycopg.types.json import Jsonb

from config.errors import BadInput, Unavailable
from monitoring import compaction, partitions, pgarrays, rollups, selfmetrics
from monitoring.pgarrays import Float8Array, Int4Array, Int8Array, TimestamptzArray
from monitoring.pgcopy import pg_microseconds
from monitoring.records import Batch, EventRecord, LogRecord, SeriesKey, SnapshotRecord


@dataclass
class WriteResult:
    samples: int = 0
    logs: int = 0
    events: int = 0
    series_created: int = 0
    duplicate: bool = False
    # series id -> (server_id, metric_type, name, labels) for the series this batch touched
    series: dict[int, tuple[str, str, str, bytes]] = field(default_factory=dict)
    event_ids: list[int] = field(default_factory=list)
    # log messages stored cut to LOG_MESSAGE_MAX_BYTES
    logs_truncated: int = 0
    # server id -> hostname of the servers the batch touched (and those it named), for the live frames
    hostnames: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        counts = {
            "samples": self.samples,
            "logs": self.logs,
            "events": self.events,
            "series_created": self.series_created,
            "duplicate": self.duplicate,
        }
        if self.logs_truncated:
            counts["logs_truncated"] = self.logs_truncated
        return counts


class SeriesCache:
    """series key -> id, shared by the threads of one process."""

    LIMIT = 500_000

    def __init__(self):
        self._ids: dict[SeriesKey, int] = {}
        self._lock = threading.Lock()

    def get(self, key: SeriesKey) -> int | None:
        return self._ids.get(key)

    def get_many(self, keys: list[SeriesKey]) -> list[int | None]:
        """The id of each key, None where not cached; one dict lookup per key."""
        return list(map(self._ids.get, keys))

    def update(self, found: dict[SeriesKey, int]) -> None:
        with self._lock:
            if len(self._ids) + len(found) > self.LIMIT:
                self._ids.clear()
            self._ids.update(found)

    def clear(self) -> None:
        with self._lock:
            self._ids.clear()


series_cache = SeriesCache()


def resolve_series(cursor, keys: Iterable[SeriesKey]) -> tuple[dict[SeriesKey, int], int]:
    """Ids for series keys, creating unknown series in one upsert; answers (ids, created)."""
    ids: dict[SeriesKey, int] = {}
    missing: list[SeriesKey] = []
    for key in set(keys):
        found = series_cache.get(key)
        if found is None:
            missing.append(key)
        else:
            ids[key] = found
    if not missing:
        return ids, 0
    check_series_shape(missing)
    found, created = _upsert_series(cursor, missing)
    late = [key for key in missing if key not in found]
    if late:
        # A concurrent request inserted these between our snapshot and our insert: the upsert
        # waited for it and did nothing, and its rows are invisible to that statement. A new
        # statement (READ COMMITTED) sees them.
        more, _ = _upsert_series(cursor, late)
        found.update(more)
    if created:
        check_series_counts(cursor, {key[0] for key in missing})
    # remembered once committed: a write rolled back after this must not leave ids of series
    # that do not exist in the cache (their samples would be stored under no series)
    transaction.on_commit(lambda: series_cache.update(found))
    ids.update(found)
    return ids, created


class TooManyNewSeries(Exception):
    """A server created more than SERIES_MAX_NEW_PER_MINUTE series in the last minute: 429, retry later."""

    retry_after = 60


def check_series_shape(keys: list[SeriesKey]) -> None:
    """400 (StorageRefused on ``labels``) for a new series over the label limits."""
    most = settings.SERIES_MAX_LABELS
    name_chars = settings.SERIES_MAX_LABEL_NAME_CHARS
    value_chars = settings.SERIES_MAX_LABEL_VALUE_CHARS
    for _, metric_type, name, raw in keys:
        if raw == b"{}":
            continue
        labels = orjson.loads(raw)
        where = f"series {metric_type}/{name}"
        if len(labels) > most:
            raise StorageRefused("labels", f"{where}: {len(labels)} labels, more than {most} (SERIES_MAX_LABELS)")
        for label, value in labels.items():
            if len(label) > name_chars:
                raise StorageRefused(
                    "labels",
                    f"{where}: label name {label[:40]!r}… over {name_chars} characters (SERIES_MAX_LABEL_NAME_CHARS)",
                )
            text = value if type(value) is str else orjson.dumps(value).decode()
            if len(text) > value_chars:
                raise StorageRefused(
                    "labels",
                    f"{where}: label {label[:40]!r} has a value over {value_chars} characters "
                    "(SERIES_MAX_LABEL_VALUE_CHARS)",
                )


def check_series_counts(cursor, server_ids: set[str]) -> None:
    """After a write created series: refuse it when a server now has too many, in a minute or in all."""
    cursor.execute(
        """
        SELECT s.server_id, v.hostname, count(*), count(*) FILTER (WHERE s.created_at > now() - interval '60 seconds')
        FROM monitoring_series s LEFT JOIN servers_server v ON v.id = s.server_id
        WHERE s.server_id = ANY(%s::uuid[]) GROUP BY s.server_id, v.hostname
        """,
        [list(server_ids)],
    )
    for server_id, hostname, total, recent in cursor.fetchall():
        who = hostname or server_id
        if recent > settings.SERIES_MAX_NEW_PER_MINUTE:
            raise TooManyNewSeries(
                f"server {who} created {recent} series in the last minute, more than "
                f"{settings.SERIES_MAX_NEW_PER_MINUTE} (SERIES_MAX_NEW_PER_MINUTE); retry later"
            )
        if total > settings.SERIES_MAX_PER_SERVER:
            raise StorageRefused(
                "labels",
                f"server {who} would have {total} series, more than {settings.SERIES_MAX_PER_SERVER} "
                "(SERIES_MAX_PER_SERVER); labels that change with every sample (ids, pids) make a new series each",
            )


def _upsert_series(cursor, keys: list[SeriesKey]) -> tuple[dict[SeriesKey, int], int]:
    columns = (
        [k[0] for k in keys],
        [k[1] for k in keys],
        [k[2] for k in keys],
        [k[3].decode() for k in keys],
    )
    # Results are matched to the keys by position, not by re-encoding what PostgreSQL answers:
    # jsonb normalizes values (1.0 is stored as 1), so the answer's text may differ from the key.
    cursor.execute(
        """
        WITH wanted AS (
            SELECT * FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::jsonb[]) WITH ORDINALITY
                AS w(server_id, metric_type, name, labels, ord)
        ), inserted AS (
            INSERT INTO monitoring_series (server_id, metric_type, name, labels, created_at)
            SELECT server_id, metric_type, name, labels, now() FROM wanted
            ON CONFLICT (server_id, metric_type, name, labels) DO NOTHING
            RETURNING id, server_id, metric_type, name, labels
        )
        SELECT w.ord, i.id, true FROM inserted i JOIN wanted w USING (server_id, metric_type, name, labels)
        UNION ALL
        SELECT w.ord, s.id, false FROM monitoring_series s JOIN wanted w USING (server_id, metric_type, name, labels)
        """,
        columns,
    )
    found: dict[SeriesKey, int] = {}
    created = 0
    for ordinal, series_id, is_new in cursor.fetchall():
        found[keys[ordinal - 1]] = series_id
        created += bool(is_new)
    return found, created


def series_ids(cursor, keys: list[SeriesKey]) -> tuple[list[int], int]:
    """The series id of each key, in order; answers (ids, created).

    The cache answers a request of known series in one lookup per sample;
    only the keys it lacks go to ``resolve_series``.
    """
    sids = series_cache.get_many(keys)
    if None not in sids:
        return sids, 0
    ids, created = resolve_series(cursor, [key for key, sid in zip(keys, sids, strict=True) if sid is None])
    return [ids[key] if sid is None else sid for key, sid in zip(keys, sids, strict=True)], created


# A batch's samples, roll-up marks, receipt and servers heard from go to PostgreSQL as one statement
# (data-modifying CTEs) with the samples as whole binary arrays (monitoring/pgarrays.py): one round
# trip, atomic on its own. A series with INGEST_RUN_MIN_SAMPLES or more samples in the batch is
# stored as runs, one row of arrays per (series, day, at most MAX_RUN_SPAN); the others as narrow rows.
_RUN_SPAN_US = compaction.MAX_RUN_SPAN // timedelta(microseconds=1)
_DAY_US = 86_400_000_000  # PostgreSQL's epoch is a UTC midnight: µs // _DAY_US changes at each midnight
_MINUTE_US = 60_000_000  # and a minute boundary: µs // _MINUTE_US is the roll-up bucket


@functools.cache
def _statement(*, receipt: bool, rows: bool, runs: bool, touch: bool) -> str:
    """The one statement of a write; with ``receipt`` it stores nothing when the receipt exists,
    and answers whether it stored (else true); with ``touch``, also the touched servers' ids and hostnames."""
    ctes = []
    only_new = ""
    if receipt:
        ctes.append(
            "receipt AS (INSERT INTO monitoring_ingestreceipt (key, created_at, summary) "
            "VALUES (%(key)s, %(now)s, '{}') ON CONFLICT (key) DO NOTHING RETURNING key)"
        )
        only_new = " WHERE EXISTS (SELECT FROM receipt)"
    if rows:
        ctes.append(
            "narrow AS (INSERT INTO monitoring_sample (series_id, ts, value) "
            f"SELECT * FROM unnest(%(row_series)b, %(row_ts)b, %(row_value)b){only_new})"
        )
    if runs:
        ctes.append(
            f"runs AS (INSERT INTO {compaction.RUN_TABLE} (series_id, first_ts, last_ts, ts, value) "
            "SELECT r.series_id, (%(run_ts)b::timestamptz[])[r.lo], (%(run_ts)b::timestamptz[])[r.hi], "
            "(%(run_ts)b::timestamptz[])[r.lo:r.hi], (%(run_value)b::float8[])[r.lo:r.hi] "
            f"FROM unnest(%(run_series)b, %(run_lo)b, %(run_hi)b) AS r(series_id, lo, hi){only_new})"
        )
    # same statement: a committed sample always has its roll-up bucket queued (monitoring/rollups.py)
    ctes.append(
        f"marks AS (INSERT INTO {rollups.DIRTY_TABLE} (series_id, bucket) "
        f"SELECT * FROM unnest(%(mark_series)b, %(mark_bucket)b){only_new})"
    )
    if touch:
        # a retry stores nothing twice, but its host is alive: it spoke now
        spoke = "CASE WHEN EXISTS (SELECT FROM receipt) THEN u.ts ELSE %(now)s END" if receipt else "u.ts"
        ctes.append(
            "touched AS (UPDATE servers_server s SET last_seen = GREATEST(COALESCE(s.last_seen, v.ts), v.ts) "
            f"FROM (SELECT u.id, {spoke} AS ts FROM unnest(%(seen_id)s::uuid[], %(seen_ts)s::timestamptz[]) "
            "AS u(id, ts)) v WHERE s.id = v.id RETURNING s.id, s.hostname)"
        )
    answer = "EXISTS (SELECT FROM receipt)" if receipt else "true"
    if touch:  # and the hostnames of the servers heard from, for the live frames: no query more
        answer += ", ARRAY(SELECT id::text FROM touched), ARRAY(SELECT hostname FROM touched)"
    return f"WITH {', '.join(ctes)} SELECT {answer}"


def _sample_params(sids: list[int], stamps: list[datetime], values: list[float]) -> tuple[dict, bool, bool]:
    """The statement's sample arrays: (parameters, has narrow rows, has runs)."""
    # a request's samples share few timestamps: convert each once
    micros = {ts: pg_microseconds(ts) for ts in set(stamps)}
    count = len(sids)
    series = np.fromiter(sids, np.int64, count)
    numbers = np.fromiter(values, np.float64, count)
    if len(micros) == 1:  # one scrape: one sample per series, no runs to look for
        (us,) = micros.values()
        marked = np.unique(series)
        return (
            {
                "row_series": Int8Array(series),
                "row_ts": TimestamptzArray(np.full(count, us, np.int64)),
                "row_value": Float8Array(numbers),
                "mark_series": Int8Array(marked),
                "mark_bucket": TimestamptzArray(np.full(len(marked), us // _MINUTE_US * _MINUTE_US, np.int64)),
            },
            True,
            False,
        )
    stamped = np.fromiter(map(micros.__getitem__, stamps), np.int64, count)
    order = np.lexsort((numbers, stamped, series))  # by series, ts, then value: the order readers break ties in
    series, stamped, numbers = series[order], stamped[order], numbers[order]
    run_lo, run_hi, in_run = _runs(series, stamped)
    narrow = ~in_run
    buckets = stamped // _MINUTE_US * _MINUTE_US
    first_of_bucket = np.ones(count, bool)  # sorted by series then time: a bucket's samples are adjacent
    first_of_bucket[1:] = (series[1:] != series[:-1]) | (buckets[1:] != buckets[:-1])
    params = {
        "mark_series": Int8Array(series[first_of_bucket]),
        "mark_bucket": TimestamptzArray(buckets[first_of_bucket]),
    }
    has_rows = bool(narrow.any())
    if has_rows:
        params.update(
            row_series=Int8Array(series[narrow]),
            row_ts=TimestamptzArray(stamped[narrow]),
            row_value=Float8Array(numbers[narrow]),
        )
    if len(run_lo):
        params.update(
            run_series=Int8Array(series[run_lo]),
            run_lo=Int4Array(run_lo + 1),  # SQL arrays count from 1, and a slice includes its end
            run_hi=Int4Array(run_hi),
            run_ts=TimestamptzArray(stamped),
            run_value=Float8Array(numbers),
        )
    return params, has_rows, bool(len(run_lo))


def _runs(series: np.ndarray, stamped: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs in samples sorted by series and time: [lo, hi) index ranges of at least INGEST_RUN_MIN_SAMPLES
    samples of one series within one day and MAX_RUN_SPAN; and which samples they hold."""
    least = settings.INGEST_RUN_MIN_SAMPLES
    count = len(series)
    change = np.ones(count, bool)
    np.not_equal(series[1:], series[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:]
    ends[-1] = count
    long = ends - starts >= least
    first, last = stamped[starts], stamped[ends - 1]
    whole = long & (first // _DAY_US == last // _DAY_US) & (last - first <= _RUN_SPAN_US)
    in_run = np.repeat(whole, ends - starts)
    lo, hi = list(starts[whole]), list(ends[whole])
    for group in np.flatnonzero(long & ~whole):  # crossing midnight or longer than MAX_RUN_SPAN: cut
        for a, b in _cuts(stamped[starts[group] : ends[group]].tolist(), int(starts[group])):
            if b - a >= least:
                lo.append(a)
                hi.append(b)
                in_run[a:b] = True
    return np.array(lo, np.int64), np.array(hi, np.int64), in_run


def _cuts(points: list[int], offset: int) -> list[tuple[int, int]]:
    """Sorted times cut where a day ends or MAX_RUN_SPAN is exceeded (readers bound their search by
    both), as [lo, hi) ranges shifted by ``offset``."""
    out, start = [], 0
    for i in range(1, len(points) + 1):
        if (
            i == len(points)
            or points[i] // _DAY_US != points[start] // _DAY_US
            or points[i] - points[start] > _RUN_SPAN_US
        ):
            out.append((offset + start, offset + i))
            start = i
    return out


def _store_samples(
    conn, sids: list[int], stamps: list[datetime], values: list[float], **extra
) -> tuple[bool, dict[str, str]]:
    """Run the one statement; ``extra`` gives the receipt (key, now) and the servers heard from
    (seen_id, seen_ts, now). Answers False when the receipt was there (nothing stored), and the
    hostnames of the servers heard from."""
    params, rows, runs = _sample_params(sids, stamps, values)
    params.update(extra)
    sql = _statement(receipt="key" in extra, rows=rows, runs=runs, touch="seen_id" in extra)
    # a cursor binding parameters on the server (Django's binds them into the text): binary arrays
    pgarrays.register(conn)
    with psycopg.Cursor(conn) as cursor:
        cursor.execute(sql, params)
        stored, *touched = cursor.fetchone()
    return stored, dict(zip(*touched, strict=True)) if touched else {}


def bounded_message(message: str, limit: int) -> tuple[str, bool]:
    """A log message of at most ``limit`` UTF-8 bytes: a longer one is cut, with a marker saying how
    much (never refused whole: the start of a stack trace is what people read)."""
    if len(message) * 4 <= limit:  # no character takes more than 4 bytes: cheap for the usual line
        return message, False
    raw = message.encode("utf-8", "surrogatepass")
    if len(raw) <= limit:
        return message, False
    marker = f" …[truncated {len(raw)} bytes to {limit}, LOG_MESSAGE_MAX_BYTES]"
    keep = raw[: max(0, limit - len(marker.encode()))].decode("utf-8", "ignore")
    return keep + marker, True


def _copy_logs(cursor, logs: list[LogRecord]) -> int:
    """COPY the log records; answers how many messages were cut to LOG_MESSAGE_MAX_BYTES."""
    limit = settings.LOG_MESSAGE_MAX_BYTES
    truncated = 0
    sql = (
        "COPY monitoring_logentry (ts, server_id, service, level, message, metadata, source) FROM STDIN (FORMAT BINARY)"
    )
    with cursor.copy(sql) as copy:
        copy.set_types(["timestamptz", "uuid", "text", "text", "text", "jsonb", "text"])
        for log in logs:
            message, cut = bounded_message(log.message.replace("\x00", ""), limit)
            truncated += cut
            copy.write_row(
                (
                    log.ts,
                    _uuid(log.server_id),
                    log.service,
                    log.level,
                    message,
                    Jsonb(log.metadata or {}),
                    log.source,
                )
            )
    return truncated


def _insert_events(cursor, events: list[EventRecord]) -> list[int]:
    # Events are few per request and callers want their ids back: one multi-row INSERT.
    cursor.execute(
        """
        INSERT INTO monitoring_event
            (ts, server_id, source, event_type, data, metadata, status, severity, reasons, suggestions, decision)
        SELECT * FROM unnest(%s::timestamptz[], %s::uuid[], %s::text[], %s::text[], %s::jsonb[], %s::jsonb[],
                             %s::text[], %s::float8[], %s::jsonb[], %s::jsonb[], %s::text[])
        RETURNING id
        """,
        [
            [e.ts for e in events],
            [_uuid(e.server_id) for e in events],
            [e.source for e in events],
            [e.event_type for e in events],
            [Jsonb(e.data or {}) for e in events],
            [Jsonb(e.metadata or {}) for e in events],
            [e.status for e in events],
            [float(e.severity) for e in events],
            [Jsonb(e.reasons or []) for e in events],
            [Jsonb(e.suggestions or []) for e in events],
            [e.decision for e in events],
        ],
    )
    return [row[0] for row in cursor.fetchall()]


def _upsert_snapshots(cursor, snapshots: list[SnapshotRecord], now: datetime) -> None:
    for snap in snapshots:
        cursor.execute(
            """
            INSERT INTO monitoring_snapshot (server_id, ts, received_at, payload, processes, score)
            VALUES (%s, %s, %s, %s, %s, %s)
            ON CONFLICT (server_id) DO UPDATE SET
                ts = EXCLUDED.ts,
                received_at = EXCLUDED.received_at,
                payload = CASE WHEN %s THEN EXCLUDED.payload ELSE monitoring_snapshot.payload END,
                processes = CASE WHEN %s THEN EXCLUDED.processes ELSE monitoring_snapshot.processes END,
                score = COALESCE(EXCLUDED.score, monitoring_snapshot.score)
            """,
            [
                _uuid(snap.server_id),
                snap.ts,
                now,
                Jsonb(snap.payload or {}),
                Jsonb(snap.processes or []),
                snap.score,
                snap.payload is not None,
                snap.processes is not None,
            ],
        )


def _touch_servers(cursor, seen: dict[str, datetime]) -> dict[str, str]:
    """Mark the servers heard from; answers their hostnames (the same statement: no query more)."""
    if not seen:
        return {}
    cursor.execute(
        """
        UPDATE servers_server s SET last_seen = GREATEST(COALESCE(s.last_seen, v.ts), v.ts)
        FROM unnest(%s::uuid[], %s::timestamptz[]) AS v(id, ts)
        WHERE s.id = v.id
        RETURNING s.id, s.hostname
        """,
        [list(seen.keys()), list(seen.values())],
    )
    return {str(server_id): hostname for server_id, hostname in cursor.fetchall()}


def _uuid(value) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(str(value))


def _claim_receipt(cursor, key: str, now: datetime) -> bool:
    cursor.execute(
        "INSERT INTO monitoring_ingestreceipt (key, created_at, summary) VALUES (%s, %s, '{}') "
        "ON CONFLICT (key) DO NOTHING RETURNING key",
        [key, now],
    )
    return cursor.fetchone() is not None


class StorageUnavailable(Unavailable):
    """The database cannot take the write now (connection lost, restarting, disk full, lock busy):
    nothing was stored; answer 503 with Retry-After, the one code every agent retries."""


class StorageRefused(BadInput):
    """PostgreSQL refuses a value of the batch (e.g. a series key too long for its index):
    nothing was stored; answer 400 naming the field, a retry would be refused the same way."""


# SQLSTATE classes of faults that pass with time: connection exception (08), transaction
# rollback such as a deadlock (40), insufficient resources such as a full disk (53), object
# not in prerequisite state such as a lock timeout (55), operator intervention such as a
# restart (57), system error such as an I/O error (58). Any other is about the data.
_TRANSIENT_CLASSES = frozenset({"08", "40", "53", "55", "57", "58"})


def storage_fault(exc: Exception, field: str) -> StorageUnavailable | StorageRefused:
    """The StorageUnavailable or StorageRefused a database error during a write stands for."""
    cause = exc if isinstance(exc, psycopg.Error) else exc.__cause__
    state = getattr(cause, "sqlstate", None)
    first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
    if state is None or state[:2] in _TRANSIENT_CLASSES:
        return StorageUnavailable(first_line)
    if state == "54000":  # program_limit_exceeded: an index row over its size limit
        return StorageRefused(field, f"too long for PostgreSQL to index ({first_line})")
    return StorageRefused(field, f"PostgreSQL refused it ({first_line})")


def write(batch: Batch, *, receipt: str | None = None) -> WriteResult:
    """Store a batch in one transaction; with ``receipt``, a batch already stored is not stored again.

    Raises StorageUnavailable or StorageRefused (nothing stored) for a database
    error, TooManyNewDays when its days need more new partitions than one write may create.
    """
    started = time.perf_counter()
    stage = ["batch"]  # the part of the batch being written, to name it when PostgreSQL refuses it
    try:
        try:
            return _write(batch, receipt, stage)
        except psycopg.errors.CheckViolation:
            # A partition this process believed in was dropped by retention: forget and retry once.
            partitions.forget()
            return _write(batch, receipt, stage)
    except (psycopg.Error, DatabaseError) as exc:
        # the raw psycopg cursor's errors bypass Django's wrapper: flag the connection so that the
        # request's end closes it if it broke, and the next request gets a fresh one
        connection.errors_occurred = True
        raise storage_fault(exc, stage[0]) from exc
    finally:
        selfmetrics.WRITE_SECONDS.observe(time.perf_counter() - started)


def _partition_days(batch: Batch) -> dict[str, set]:
    # the days of the distinct timestamps: a request's samples share few of them
    wanted = {}
    if batch.samples:
        days = {partitions.day_of(ts) for ts in {s[1] for s in batch.samples}}
        wanted["monitoring_sample"] = wanted[compaction.RUN_TABLE] = days
    if batch.logs:
        wanted["monitoring_logentry"] = {partitions.day_of(log.ts) for log in batch.logs}
    if batch.events:
        wanted["monitoring_event"] = {partitions.day_of(e.ts) for e in batch.events}
    return wanted


def _write(batch: Batch, receipt: str | None, stage: list[str]) -> WriteResult:
    now = datetime.now(UTC)
    wanted = _partition_days(batch)
    if not partitions.known(wanted):
        with connection.cursor() as wrapper:
            partitions.ensure_for_write(wrapper.cursor, wanted)
    if batch.samples and not (batch.logs or batch.events or batch.snapshots):
        keys = [s[0] for s in batch.samples]
        sids = series_cache.get_many(keys)
        if None not in sids:  # the usual request: known series, samples only
            return _write_known_samples(batch, keys, sids, receipt, now, stage)
    return _write_in_transaction(batch, receipt, now, stage)


def _write_known_samples(
    batch: Batch, keys: list[SeriesKey], sids: list, receipt: str | None, now: datetime, stage: list[str]
) -> WriteResult:
    """Samples of series the cache knows: receipt, samples, roll-up marks and last_seen in one statement."""
    result = WriteResult()
    stage[0] = "samples"
    extra: dict = {"now": now}
    if receipt is not None:
        extra["key"] = receipt
    if batch.seen:
        extra.update(seen_id=[str(server) for server in batch.seen], seen_ts=list(batch.seen.values()))
    # inside a caller's transaction, a savepoint: a failed statement must not poison it (write() retries once)
    nested = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    with nested:
        connection.ensure_connection()
        stored, touched = _store_samples(
            connection.connection, sids, [s[1] for s in batch.samples], [s[2] for s in batch.samples], **extra
        )
    result.hostnames = {**batch.hostnames, **touched}
    if not stored:
        result.duplicate = True
        return result
    result.samples = len(batch.samples)
    result.series = dict(zip(sids, keys, strict=True))
    return result


def _write_in_transaction(batch: Batch, receipt: str | None, now: datetime, stage: list[str]) -> WriteResult:
    result = WriteResult()
    with transaction.atomic(), connection.cursor() as wrapper:
        cursor = wrapper.cursor  # the psycopg cursor
        stage[0] = "receipt"
        if receipt is not None and not _claim_receipt(cursor, receipt, now):
            # a retry stores nothing twice, but its host is alive: it spoke now
            result.hostnames = {**batch.hostnames, **_touch_servers(cursor, dict.fromkeys(batch.seen, now))}
            result.duplicate = True
            return result
        if batch.samples:
            samples = batch.samples
            keys = [s[0] for s in samples]
            stage[0] = "labels"  # a series key is a metric's type, name and labels
            sids, result.series_created = series_ids(cursor, keys)
            stage[0] = "samples"
            _store_samples(cursor.connection, sids, [s[1] for s in samples], [s[2] for s in samples])
            result.samples = len(samples)
            result.series = dict(zip(sids, keys, strict=True))
        if batch.logs:
            stage[0] = "logs"
            result.logs_truncated = _copy_logs(cursor, batch.logs)
            result.logs = len(batch.logs)
        if batch.events:
            stage[0] = "events"
            result.event_ids = _insert_events(cursor, batch.events)
            result.events = len(batch.events)
        if batch.snapshots:
            stage[0] = "snapshot"
            _upsert_snapshots(cursor, batch.snapshots, now)
        result.hostnames = {**batch.hostnames, **_touch_servers(cursor, batch.seen)}
    return result
