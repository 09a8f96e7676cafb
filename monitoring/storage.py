"""The one write path into the store: normalized records in, COPY in one transaction out.

Every wire format (ingest/*) turns a request into a ``Batch`` (monitoring/records.py) and calls
``write``. Series ids come from an in-process cache; unknown series are
created in one upsert. Samples, log entries and events are written with binary
COPY into their day partitions, all in one transaction: when ``write`` returns,
everything is committed; when it raises, nothing is stored.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson
import psycopg
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from psycopg.types.json import Jsonb

from config.errors import BadInput, Unavailable
from monitoring import compaction, partitions, rollups, selfmetrics
from monitoring.pgcopy import BinaryCopy, pg_microseconds
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


# Binary COPY through the one encoder (monitoring/pgcopy.py): narrow rows, and runs of a series' samples as arrays
SAMPLES = BinaryCopy("monitoring_sample", [("series_id", "int8"), ("ts", "timestamptz"), ("value", "float8")])
RUNS = BinaryCopy(
    compaction.RUN_TABLE,
    [
        ("series_id", "int8"),
        ("first_ts", "timestamptz"),
        ("last_ts", "timestamptz"),
        ("ts", "timestamptz[]"),
        ("value", "float8[]"),
    ],
)
_RUN_SPAN_US = compaction.MAX_RUN_SPAN // timedelta(microseconds=1)
_DAY_US = 86_400_000_000  # PostgreSQL's epoch is a UTC midnight: µs // _DAY_US changes at each midnight


def _copy_samples(cursor, sids: list[int], stamps: list[datetime], values: list[float]) -> None:
    """Rows of (series, ts, value); a series with RUN_MIN_SAMPLES or more samples in the batch as runs."""
    # a request's samples share few timestamps: convert each once
    micros = {ts: pg_microseconds(ts) for ts in set(stamps)}
    if len(micros) == 1:  # one scrape: one sample per series, no runs to look for
        (us,) = micros.values()
        rows = SAMPLES.rows(sids, itertools.repeat(us, len(sids)), values)
        runs: list[bytes] = []
    else:
        rows, runs = _rows_and_runs(sids, [micros[ts] for ts in stamps], values)
    if rows:
        SAMPLES.write(cursor, rows)
    if runs:
        RUNS.write(cursor, runs)


def _rows_and_runs(sids: list[int], micros: list[int], values: list[float]) -> tuple[list[bytes], list[bytes]]:
    """Binary COPY rows: narrow rows, and one run row per (series, day, at most MAX_RUN_SPAN) of enough samples."""
    by_series: dict[int, list[tuple[int, float]]] = {}
    for sid, us, value in zip(sids, micros, values, strict=True):
        by_series.setdefault(sid, []).append((us, value))
    least = settings.INGEST_RUN_MIN_SAMPLES
    narrow: list[tuple[int, int, float]] = []
    runs: list[bytes] = []
    for sid, points in by_series.items():
        if len(points) < least:
            narrow += [(sid, us, value) for us, value in points]
            continue
        points.sort()  # by ts, then value: the order every reader breaks ties in
        for run in _split(points):
            if len(run) < least:
                narrow += [(sid, us, value) for us, value in run]
            else:
                stamps, numbers = zip(*run, strict=True)
                runs.append(RUNS.row(sid, stamps[0], stamps[-1], stamps, numbers))
    return SAMPLES.rows_of(narrow), runs


def _split(points: list[tuple[int, float]]) -> list[list[tuple[int, float]]]:
    """Sorted points cut where a day ends or MAX_RUN_SPAN is exceeded (readers bound their search by both)."""
    span = _RUN_SPAN_US
    out, start = [], 0
    for i in range(1, len(points) + 1):
        if (
            i == len(points)
            or points[i][0] // _DAY_US != points[start][0] // _DAY_US
            or points[i][0] - points[start][0] > span
        ):
            out.append(points[start:i])
            start = i
    return out


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


def _touch_servers(cursor, seen: dict[str, datetime]) -> None:
    if not seen:
        return
    cursor.execute(
        """
        UPDATE servers_server s SET last_seen = GREATEST(COALESCE(s.last_seen, v.ts), v.ts)
        FROM unnest(%s::uuid[], %s::timestamptz[]) AS v(id, ts)
        WHERE s.id = v.id
        """,
        [list(seen.keys()), list(seen.values())],
    )


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
    result = WriteResult()
    now = datetime.now(UTC)
    with connection.cursor() as wrapper:
        partitions.ensure_for_write(wrapper.cursor, _partition_days(batch))
    with transaction.atomic(), connection.cursor() as wrapper:
        cursor = wrapper.cursor  # the psycopg cursor, for COPY
        stage[0] = "receipt"
        if receipt is not None and not _claim_receipt(cursor, receipt, now):
            # a retry stores nothing twice, but its host is alive: it spoke now
            _touch_servers(cursor, dict.fromkeys(batch.seen, now))
            result.duplicate = True
            return result
        if batch.samples:
            samples = batch.samples
            keys = [s[0] for s in samples]
            stamps = [s[1] for s in samples]
            values = [s[2] for s in samples]
            stage[0] = "labels"  # a series key is a metric's type, name and labels
            sids, result.series_created = series_ids(cursor, keys)
            stage[0] = "samples"
            _copy_samples(cursor, sids, stamps, values)
            # same transaction: a committed sample always has its roll-up bucket queued
            rollups.mark_dirty(cursor, sids, stamps)
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
        _touch_servers(cursor, batch.seen)
    return result
