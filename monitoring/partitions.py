"""Day partitions of the samples, log entries and events tables.

A partition covers one UTC day, [day, day + 1). The writer asks for the days of
each batch (``ensure``): a sample for a day with no partition yet is never
refused. The upkeep task creates days ahead and retention drops whole days.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

PARTITIONED_TABLES = ("monitoring_sample", "monitoring_logentry", "monitoring_event")
_NAME = re.compile(r"^(?P<table>monitoring_[a-z]+)_p(?P<day>\d{8})$")

# (table, day) known to exist in this process; partitions are never dropped for
# days a writer is still writing, and a stale entry only costs one failed COPY
# that the writer retries after forgetting it.
_known: set[tuple[str, date]] = set()


def partition_name(table: str, day: date) -> str:
    return f"{table}_p{day:%Y%m%d}"


def day_of(ts: datetime) -> date:
    return ts.astimezone(UTC).date()


def ensure(cursor, table: str, days: Iterable[date]) -> list[str]:
    """Create the partitions of ``table`` for ``days`` that do not exist; name those created."""
    created = []
    for day in sorted(set(days)):
        if (table, day) in _known:
            continue
        name = partition_name(table, day)
        # Two writers may want the same new day at once: serialize on its name.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [name])
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        if not cursor.fetchone()[0]:
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            cursor.execute(
                f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF "{table}" '
                f"FOR VALUES FROM ('{start.isoformat()}') TO ('{(start + timedelta(days=1)).isoformat()}')"
            )
            created.append(name)
        _known.add((table, day))
    return created


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
