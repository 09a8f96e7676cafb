"""How much the store holds, how fast it grows, when it fills; and the size cap that keeps it bounded.

``report()`` answers, per layer (rows of open days, compacted days, 1-minute and
1-hour roll-ups, log entries, events): bytes on disk (tables, indexes, TOAST),
days held, samples and bytes per sample; today's ingest rate; and a projection
of the database's size day by day at that rate, each layer growing until it
holds its retention and flat after (retention then drops a day per day added).
The day the projection crosses STORAGE_MAX_BYTES, or fills the free disk, is
``days_left``. The Storage page, ``manage.py storage`` and the console's own
alert (two samples of the console's server, ``publish``) read it.

``enforce_cap()`` (run by retention): over STORAGE_MAX_BYTES, drop the oldest
raw day (samples, chunks, log entries, events), again until under, then the
oldest month of 1-minute roll-ups; never today nor the current month. Each drop
is logged and recorded as an event from source ``console``.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection

from monitoring import compaction, partitions, rollups
from monitoring.timestamps import iso

logger = logging.getLogger(__name__)

HORIZON_DAYS = 180  # how far the projection looks
RATE_WINDOW = timedelta(minutes=10)  # today's ingest rate: samples of the last ten minutes
EXACT_BELOW = 64 * 1024 * 1024  # tables smaller than this are counted exactly, larger ones estimated
# bytes per sample of a compacted day before any day is compacted (bench/storage.py measures 3.6)
ASSUMED_CHUNK_BYTES = 4.0
CONSOLE_METRIC_TYPE = "console"
DAYS_LEFT_METRIC = "storage_days_left"
DISK_FREE_METRIC = "disk_free_percent"


@dataclass
class Layer:
    key: str
    label: str
    bytes: int = 0
    days: int = 0
    first_day: date | None = None
    samples: int | None = None  # samples held (or covered, for roll-ups); None: not a sample layer
    retention_days: int = 0
    growth_per_day: float = 0.0  # bytes a day at today's rate, until the layer holds its retention

    @property
    def bytes_per_sample(self) -> float | None:
        return self.bytes / self.samples if self.samples else None

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "label": self.label,
            "bytes": self.bytes,
            "days": self.days,
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "samples": self.samples,
            "bytes_per_sample": self.bytes_per_sample,
            "retention_days": self.retention_days,
            "growth_per_day": round(self.growth_per_day),
        }


@dataclass
class StorageReport:
    now: datetime
    layers: list[Layer] = field(default_factory=list)
    database_bytes: int = 0
    cap_bytes: int | None = None
    disk_total: int | None = None
    disk_free: int | None = None
    samples_per_second: float = 0.0
    active_series: int = 0
    projection: list[tuple[date, int]] = field(default_factory=list)
    cap_day: date | None = None
    disk_full_day: date | None = None

    @property
    def days_left(self) -> float | None:
        """Days until the cap or the disk is reached at today's rate; None: not within HORIZON_DAYS."""
        days = [(day - self.now.date()).days for day in (self.cap_day, self.disk_full_day) if day is not None]
        return float(min(days)) if days else None

    @property
    def reached(self) -> tuple[str, date] | None:
        """("the size cap" or "the disk", the day), whichever comes first within the horizon."""
        found = [(day, what) for day, what in ((self.cap_day, "the size cap"), (self.disk_full_day, "the disk")) if day]
        return (min(found)[1], min(found)[0]) if found else None

    @property
    def disk_free_percent(self) -> float | None:
        return 100.0 * self.disk_free / self.disk_total if self.disk_total else None

    @property
    def warnings(self) -> list[str]:
        out = []
        if self.reached and self.days_left < settings.STORAGE_WARN_DAYS:
            what, day = self.reached
            out.append(f"at today's rate {what} is reached in {self.days_left:.0f} days ({day})")
        if self.disk_free_percent is not None and self.disk_free_percent < settings.STORAGE_WARN_DISK_FREE_PERCENT:
            out.append(f"only {self.disk_free_percent:.1f} % of the disk is free")
        return out

    def as_dict(self) -> dict:
        return {
            "now": iso(self.now),
            "layers": [layer.as_dict() for layer in self.layers],
            "database_bytes": self.database_bytes,
            "cap_bytes": self.cap_bytes,
            "disk_total": self.disk_total,
            "disk_free": self.disk_free,
            "disk_free_percent": self.disk_free_percent,
            "samples_per_second": round(self.samples_per_second, 1),
            "active_series": self.active_series,
            "projection": [[day.isoformat(), size] for day, size in self.projection],
            "cap_day": self.cap_day.isoformat() if self.cap_day else None,
            "disk_full_day": self.disk_full_day.isoformat() if self.disk_full_day else None,
            "days_left": self.days_left,
            "warnings": self.warnings,
        }


def report(now: datetime | None = None) -> StorageReport:
    now = now or datetime.now(UTC)
    result = StorageReport(now=now, cap_bytes=settings.STORAGE_MAX_BYTES)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        result.database_bytes = cursor.fetchone()[0]
        result.samples_per_second, result.active_series = _ingest_rate(cursor, now)
        result.layers = _layers(cursor, now, result.samples_per_second * 86400, result.active_series)
        result.disk_total, result.disk_free = _disk(cursor)
    _project(result)
    return result


def _layers(cursor, now: datetime, samples_per_day: float, series: int) -> list[Layer]:
    today = now.date()
    raw = _partition_layer(cursor, compaction.SAMPLE_TABLE, Layer("raw", "samples of open days (rows)"), today)
    raw.samples = _count(cursor, compaction.SAMPLE_TABLE, "count(*)", raw.bytes)
    raw.retention_days = settings.RAW_RETENTION_DAYS
    runs = _partition_layer(cursor, compaction.RUN_TABLE, Layer("runs", "samples of open days (runs)"), today)
    runs.samples = _count(cursor, compaction.RUN_TABLE, "sum(cardinality(value))", runs.bytes)
    runs.retention_days = settings.RAW_RETENTION_DAYS
    chunk = _partition_layer(cursor, compaction.CHUNK_TABLE, Layer("compacted", "compacted days (chunks)"), today)
    chunk.samples = _count(cursor, compaction.CHUNK_TABLE, "sum(count)", 0)
    chunk.retention_days = settings.RAW_RETENTION_DAYS
    chunk.growth_per_day = samples_per_day * (chunk.bytes_per_sample or ASSUMED_CHUNK_BYTES)
    layers = [raw, runs, chunk]
    for table, key, label, retention, per_day in (
        (rollups.MINUTE_TABLE, "rollup1m", "1-minute roll-ups", settings.ROLLUP_1M_RETENTION_DAYS, 1440),
        (rollups.HOUR_TABLE, "rollup1h", "1-hour roll-ups", settings.ROLLUP_RETENTION_DAYS, 24),
    ):
        layer = _partition_layer(cursor, table, Layer(key, label), today)
        layer.samples = _count(cursor, table, "sum(count)", layer.bytes)
        layer.retention_days = retention
        rows = _count(cursor, table, "count(*)", layer.bytes)
        layer.growth_per_day = series * per_day * (layer.bytes / rows if rows else 120.0)
        layers.append(layer)
    for table, key, label in (("monitoring_logentry", "logs", "log entries"), ("monitoring_event", "events", "events")):
        layer = _partition_layer(cursor, table, Layer(key, label), today)
        layer.retention_days = settings.RAW_RETENTION_DAYS
        # today's partition so far, stretched to a whole day
        cursor.execute(
            "SELECT coalesce(pg_total_relation_size(to_regclass(%s)), 0)", [partitions.partition_name(table, today)]
        )
        elapsed = max((now - datetime.combine(today, datetime.min.time(), UTC)).total_seconds(), 600) / 86400
        layer.growth_per_day = cursor.fetchone()[0] / elapsed
        layers.append(layer)
    return layers


def _partition_layer(cursor, table: str, layer: Layer, today: date) -> Layer:
    """Bytes of every partition of ``table``; days from the oldest partition holding rows to today."""
    cursor.execute(
        """
        SELECT c.relname, pg_total_relation_size(c.oid),
               pg_relation_size(c.oid) + coalesce(pg_relation_size(nullif(c.reltoastrelid, 0)), 0)
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = %s
        """,
        [table],
    )
    held = []
    for name, total, heap in cursor.fetchall():
        layer.bytes += total
        day = partitions.day_of_partition(name)
        if heap and day:
            held.append(day)
    if held:
        layer.first_day = min(held)
        if table in partitions.MONTHLY:
            layer.days = (today - layer.first_day).days + 1
        else:
            layer.days = len(held)
    return layer


def _count(cursor, table: str, aggregate: str, size: int) -> int:
    """count(*) or sum(count) of a table: exact when small, else from the planner's row estimate."""
    if size < EXACT_BELOW:
        cursor.execute(f"SELECT coalesce({aggregate}, 0) FROM {table}")
        return int(cursor.fetchone()[0])
    cursor.execute(
        "SELECT coalesce(sum(greatest(c.reltuples, 0)), 0) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
        [table],
    )
    rows = float(cursor.fetchone()[0])
    if aggregate == "count(*)":
        return int(rows)
    # sum(x) over the table: the estimated rows times x's mean over a 1 % sample of its pages
    cursor.execute(f"SELECT avg({aggregate[4:-1]}) FROM {table} TABLESAMPLE SYSTEM (1)")
    return int(rows * float(cursor.fetchone()[0] or 1))


def _ingest_rate(cursor, now: datetime) -> tuple[float, int]:
    """Samples per second over the last RATE_WINDOW, and how many series sent them."""
    cursor.execute(
        f"""
        SELECT count(*), count(DISTINCT series_id) FROM {compaction.samples_from(now - RATE_WINDOW, now)} x
        WHERE ts > %s AND ts <= %s
        """,
        [now - RATE_WINDOW, now],
    )
    samples, series = cursor.fetchone()
    return samples / RATE_WINDOW.total_seconds(), series


def _disk(cursor) -> tuple[int | None, int | None]:
    """Total and free bytes of the disk holding the database, when it is on this machine."""
    try:
        cursor.execute("SHOW data_directory")
        path = Path(cursor.fetchone()[0])
    except Exception:  # noqa: BLE001 - a role without pg_read_all_settings: the disk is unknown
        return None, None
    if not path.exists():
        return None, None
    usage = shutil.disk_usage(path)
    return usage.total, usage.free


def _project(result: StorageReport) -> None:
    """The database's size each day ahead; the first day over the cap, and the first the disk is full."""
    today = result.now.date()
    for ahead in range(HORIZON_DAYS + 1):
        grown = sum(
            layer.growth_per_day * max(0, min(ahead, layer.retention_days - layer.days)) for layer in result.layers
        )
        size = int(result.database_bytes + grown)
        day = today + timedelta(days=ahead)
        result.projection.append((day, size))
        if result.cap_bytes and size >= result.cap_bytes and result.cap_day is None:
            result.cap_day = day
        if result.disk_free is not None and grown >= result.disk_free and result.disk_full_day is None:
            result.disk_full_day = day


# --- the size cap ---------------------------------------------------------------------------------

RAW_TABLES = (*partitions.PARTITIONED_TABLES, compaction.CHUNK_TABLE)


def enforce_cap(now: datetime | None = None, *, dry_run: bool = False) -> list[str]:
    """Over STORAGE_MAX_BYTES: drop the oldest raw days, then the oldest 1-minute roll-up months; name them."""
    cap = settings.STORAGE_MAX_BYTES
    if not cap:
        return []
    now = now or datetime.now(UTC)
    dropped: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        size = cursor.fetchone()[0]
        if size <= cap:
            return []
        for group in _droppable(cursor, now.date()):
            if size <= cap:
                break
            for name, freed in group:
                if not dry_run:
                    cursor.execute(f'DROP TABLE IF EXISTS "{name}"')
                dropped.append(name)
                size -= freed
        if size > cap:
            logger.warning("storage cap: %d bytes held, over STORAGE_MAX_BYTES %d with nothing left to drop", size, cap)
    if dropped and not dry_run:
        partitions.forget()
        logger.warning("storage cap %d bytes: dropped %s", cap, ", ".join(dropped))
        _record(now, cap, dropped)
    return dropped


def _droppable(cursor, today: date) -> list[list[tuple[str, int]]]:
    """What the cap may drop, in order: each raw day (all its tables at once), then each minute roll-up month."""
    days: dict[date, list[tuple[str, int]]] = {}
    for table in RAW_TABLES:
        for name, size, day in _partitions(cursor, table):
            if day < today:
                days.setdefault(day, []).append((name, size))
    months = [
        [(name, size)] for name, size, day in _partitions(cursor, rollups.MINUTE_TABLE) if day < today.replace(day=1)
    ]
    return [days[day] for day in sorted(days)] + months


def _partitions(cursor, table: str) -> list[tuple[str, int, date]]:
    cursor.execute(
        "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
        [table],
    )
    found = []
    for name, size in cursor.fetchall():
        day = partitions.day_of_partition(name)
        if day:
            found.append((name, size, day))
    return sorted(found, key=lambda item: item[2])


def _record(now: datetime, cap: int, dropped: list[str]) -> None:
    """An event from the console itself, so the drop shows on the events page and the Storage page."""
    from monitoring import storage  # the writer imports this module's neighbours: import it when needed
    from monitoring.records import Batch, EventRecord

    record = EventRecord(
        ts=now,
        server_id=None,
        source=CONSOLE_METRIC_TYPE,
        event_type="storage_cap",
        data={"cap_bytes": cap, "dropped": dropped},
        status="WARNING",
        reasons=[f"over STORAGE_MAX_BYTES ({cap} bytes): dropped {len(dropped)} partitions, oldest first"],
    )
    storage.write(Batch(events=[record]))


# --- the console's own alert ------------------------------------------------------------------------


def publish(result: StorageReport) -> None:
    """Two samples of the console's own server, which its built-in storage rules (alerts) watch.

    ``storage_days_left`` is HORIZON_DAYS + 1 when neither the cap nor the disk is reached within the horizon.
    """
    from monitoring import storage  # the writer imports this module's neighbours: import it when needed
    from monitoring.records import Batch
    from servers.enrolment import self_monitor_hostname
    from servers.models import Server

    server, _ = Server.objects.get_or_create(hostname=self_monitor_hostname())
    batch = Batch()
    days_left = result.days_left
    batch.add_sample(
        server.id,
        CONSOLE_METRIC_TYPE,
        DAYS_LEFT_METRIC,
        None,
        result.now,
        HORIZON_DAYS + 1.0 if days_left is None else days_left,
    )
    if result.disk_free_percent is not None:
        batch.add_sample(server.id, CONSOLE_METRIC_TYPE, DISK_FREE_METRIC, None, result.now, result.disk_free_percent)
    storage.write(batch)
