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
from django.db import OperationalError, transaction

logger = logging.getLogger(__name__)

PARTITIONED_TABLES = ("monitoring_sample", "monitoring_logentry", "monitoring_event")
ROLLUP_TABLES = ("monitoring_rollup1m", "monitoring_rollup1h")
# tables whose partitions cover a month rather than a day
MONTHLY = frozenset(ROLLUP_TABLES)
_NAME = re.compile(r"^(?P<table>monitoring_[a-z0-9_]+)_p(?P<day>\d{8})$")

# (table, day) known to exist in this process; partitions are never dropped for
# days a writer is still writing, and a stale entry only costs one failed COPY
# that the writer retries after forgetting it.
_known: set[tuple[str, date]] = set()


def partition_name(table: str, day: date) -> str:
    return f"{table}_p{day:%Y%m%d}"


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
            cursor.execute(
                f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF "{table}" '
                f"FOR VALUES FROM ('{_midnight(start).isoformat()}') TO ('{_midnight(end).isoformat()}')"
            )
        if not dry_run:
            _known.add((table, start))
    return created


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
            found.append((name, datetime.strptime(match["day"], "%Y%m%d").date()))
    return sorted(found, key=lambda item: item[1])


def forget(table: str | None = None) -> None:
    """Drop this process's memory of existing partitions (after a drop, or in tests)."""
    if table is None:
        _known.clear()
    else:
        _known.difference_update({key for key in _known if key[0] == table})
