"""Day partitions of the samples, log entries and events tables.

A partition covers one UTC day, [day, day + 1). The writer asks for the days of
each batch (``ensure``): a sample for a day with no partition yet is never
refused. The upkeep task creates days ahead and retention drops whole days
(``drop_before``).

The roll-up tables are partitioned by UTC month instead (``MONTHLY``): a
partition is still named after its first day, ``<table>_pYYYYMM01``, and covers
[first day, first day of the next month).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import psycopg
from django.conf import settings
from django.db import OperationalError, transaction

from config.errors import Unavailable

logger = logging.getLogger(__name__)

PARTITIONED_TABLES = ("monitoring_sample", "monitoring_sample_run", "monitoring_logentry", "monitoring_event")
ROLLUP_TABLES = ("monitoring_rollup1m", "monitoring_rollup1h")
# tables whose partitions cover a month rather than a day
MONTHLY = frozenset(ROLLUP_TABLES)
# Names are zero-padded (``_p00010101``); an unpadded name from before (``_p10101``) is still found.
_NAME = re.compile(r"^(?P<table>monitoring_[a-z0-9_]+)_p(?P<year>\d{1,4})(?P<month>\d{2})(?P<day>\d{2})$")
# A write may create the partitions of this many new days; beyond, it is answered 503 and its
# retry creates the next ones. Each is created in a short transaction of its own, waiting at most
# PARTITION_LOCK_TIMEOUT for the parent table: writers never queue behind a long query.
NEW_DAYS_PER_WRITE = 2
PARTITION_LOCK_TIMEOUT = "2s"

# (table, day) known to exist in this process; partitions are never dropped for
# days a writer is still writing, and a stale entry only costs one failed COPY
# that the writer retries after forgetting it.
_known: set[tuple[str, date]] = set()


class TooManyNewDays(Unavailable):
    """A write's timestamps fall on more new days than one request may create partitions for:
    503, and the retry creates the next days'."""

    retry_after = 1

    def __init__(self, created: list[date], left: list[date]):
        super().__init__(f"{len(created) + len(left)} days without partitions; created {len(created)}, retry")
        self.created = created
        self.left = left


def oldest_writable(now: datetime) -> datetime:
    """The oldest time a write may carry: older is past the raw retention window (RAW_RETENTION_DAYS),
    so it would be dropped at once, or open a partition retention is about to drop."""
    return now - timedelta(days=settings.RAW_RETENTION_DAYS)


def retention_problem(ts: datetime) -> str:
    days = settings.RAW_RETENTION_DAYS
    return f"{ts.isoformat()} is older than the raw retention window ({days} days, RAW_RETENTION_DAYS)"


def partition_name(table: str, day: date) -> str:
    # zero-padded by hand: strftime's %Y does not pad years before 1000 on Linux
    return f"{table}_p{day.year:04d}{day.month:02d}{day.day:02d}"


def day_of(ts: datetime) -> date:
    return ts.astimezone(UTC).date()


def bounds(table: str, day: date) -> tuple[date, date]:
    """The [start, end) days of the partition of ``table`` that holds ``day``."""
    if table not in MONTHLY:
        return day, day + timedelta(days=1)
    start = day.replace(day=1)
    end = date(start.year + 1, 1, 1) if start.month == 12 else date(start.year, start.month + 1, 1)
    return start, end


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def ensure(cursor, table: str, days: Iterable[date], *, dry_run: bool = False) -> list[str]:
    """Create the partitions of ``table`` for ``days`` that do not exist; name those created.

    With ``dry_run``, create nothing and name those that would be created.
    """
    created = []
    for start, end in sorted({bounds(table, day) for day in days}):
        if (table, start) in _known:
            continue
        name = partition_name(table, start)
        if not dry_run:
            # Two writers may want the same new day at once: serialize on its name.
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [name])
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        if not cursor.fetchone()[0]:
            created.append(name)
            if dry_run:
                continue
            _create_partition(cursor, table, name, start, end)
        if not dry_run:
            _known.add((table, start))
    return created


def known(wanted: dict[str, set[date]]) -> bool:
    """Whether this process knows every partition of ``wanted`` (table -> days) to exist."""
    return all((table, bounds(table, day)[0]) in _known for table, days in wanted.items() for day in days)


def ensure_for_write(cursor, wanted: dict[str, set[date]]) -> None:
    """Before a write's transaction: create the partitions its days lack, at most NEW_DAYS_PER_WRITE days.

    Known days cost nothing (no round trip). Each new partition is created in a
    short transaction of its own with a lock timeout, so the write's own
    transaction never holds the parent table's lock. Raises TooManyNewDays
    when more days are missing than one write may create (the days nearest
    today are created first); OperationalError when the lock was not granted in time.
    """
    missing = {(table, bounds(table, day)[0]) for table, days in wanted.items() for day in days} - _known
    if not missing:
        return
    names = {partition_name(table, day): (table, day) for table, day in missing}
    cursor.execute("SELECT name FROM unnest(%s::text[]) AS name WHERE to_regclass(name) IS NOT NULL", [list(names)])
    for (name,) in cursor.fetchall():
        _known.add(names.pop(name))
    today = datetime.now(UTC).date()
    new_days = sorted({day for _, day in names.values()}, key=lambda day: (abs((day - today).days), day))
    allowed = new_days[:NEW_DAYS_PER_WRITE]
    for table, day in sorted(names.values()):
        if day in allowed:
            _create_alone(cursor, table, day)
    if len(new_days) > NEW_DAYS_PER_WRITE:
        raise TooManyNewDays(allowed, new_days[NEW_DAYS_PER_WRITE:])


def _create_alone(cursor, table: str, day: date) -> None:
    start, end = bounds(table, day)
    name = partition_name(table, start)
    with transaction.atomic():
        cursor.execute(f"SET LOCAL lock_timeout = '{PARTITION_LOCK_TIMEOUT}'")
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [name])
        _create_partition(cursor, table, name, start, end)
        cursor.execute("SET LOCAL lock_timeout = DEFAULT")  # inside a caller's transaction (tests) too
    _known.add((table, start))


def _create_partition(cursor, table: str, name: str, start: date, end: date) -> None:
    """Create a table like ``table`` and attach it as the partition of [start, end).

    ``CREATE TABLE ... PARTITION OF`` would take an ACCESS EXCLUSIVE lock on the
    parent: it waits for every query reading the table (a roll-up refresh, a
    long chart) and, while it waits, every writer queues behind it. Attaching
    takes SHARE UPDATE EXCLUSIVE, which readers and writers do not conflict
    with; the parent's indexes are built on the new, empty table as it is attached.
    """
    like = "INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMPRESSION"
    # IF NOT EXISTS, not a to_regclass() before: this backend may remember the name as missing from
    # before another writer created it (its catalog cache is refreshed when it next locks an object)
    cursor.execute(f'CREATE TABLE IF NOT EXISTS "{name}" (LIKE "{table}" {like})')
    cursor.execute("SELECT EXISTS (SELECT FROM pg_inherits WHERE inhrelid = %s::regclass)", [name])
    if not cursor.fetchone()[0]:
        cursor.execute(
            f'ALTER TABLE "{table}" ATTACH PARTITION "{name}" '
            f"FOR VALUES FROM ('{_midnight(start).isoformat()}') TO ('{_midnight(end).isoformat()}')"
        )


def drop_before(cursor, table: str, cutoff: datetime, *, dry_run: bool = False) -> list[str]:
    """Drop the partitions of ``table`` holding nothing at or after ``cutoff``; name those dropped.

    A partition is dropped whole, only once its end is at or before the cutoff:
    retention never deletes rows. Dropping a partition briefly locks the parent
    table, so it gives up (and retention tries again next time) rather than
    queue behind a long query and block writers meanwhile.
    """
    dropped = []
    for name, start in existing(cursor, table):
        if _midnight(bounds(table, start)[1]) > cutoff:
            break  # oldest first: every later partition is younger still
        if not dry_run:
            try:
                with transaction.atomic():
                    cursor.execute("SET LOCAL lock_timeout = '5s'")
                    cursor.execute(f'DROP TABLE IF EXISTS "{name}"')
            except (OperationalError, psycopg.errors.LockNotAvailable):
                logger.warning("retention: %s is busy, dropping it next time", name)
                break
        dropped.append(name)
    if dropped and not dry_run:
        forget(table)
    return dropped


def existing(cursor, table: str) -> list[tuple[str, date]]:
    """The partitions of ``table`` with their days, oldest first."""
    cursor.execute(
        """
        SELECT child.relname FROM pg_inherits
        JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
        JOIN pg_class child ON child.oid = pg_inherits.inhrelid
        WHERE parent.relname = %s
        """,
        [table],
    )
    found = []
    for (name,) in cursor.fetchall():
        match = _NAME.match(name)
        if match and match["table"] == table:
            found.append((name, date(int(match["year"]), int(match["month"]), int(match["day"]))))
    return sorted(found, key=lambda item: item[1])


def day_of_partition(name: str) -> date | None:
    """The first day the partition ``name`` covers (``<table>_pYYYYMMDD``), None for another name."""
    match = _NAME.match(name)
    return date(int(match["year"]), int(match["month"]), int(match["day"])) if match else None


def forget(table: str | None = None) -> None:
    """Drop this process's memory of existing partitions (after a drop, or in tests)."""
    if table is None:
        _known.clear()
    else:
        _known.difference_update({key for key in _known if key[0] == table})
