"""The helpers every app's tests share, used by the conftests and the tests alike (``write_samples``
is a fixture of the root conftest.py too).

Data goes in through the one write path (``monitoring.storage.write``), as an
agent's request would put it; waiting is polling with a deadline, never a
fixed sleep; a test's clock is injected where the code takes ``now``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import pytest

T = TypeVar("T")

# (metric_type, name, labels, ts, value)
SampleRow = tuple[str, str, dict, datetime, float]
# (when: a datetime, or seconds before ``now``; service, level, message)
LogLine = tuple[datetime | float, str, str, str]


def wait_until(predicate: Callable[[], T], timeout: float = 20, step: float = 0.1, what: str = "") -> T:
    """Poll ``predicate`` until it answers something truthy (answered), or fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what or 'condition'} not met within {timeout} s")
        time.sleep(step)


def is_transactional(marker: pytest.Mark | None, fixturenames: Iterable[str]) -> bool:
    """Whether a test commits for real: the ``transactional_db`` / ``live_server`` fixtures, or
    ``@pytest.mark.django_db(transaction=True)`` (also its reset_sequences / serialized_rollback)."""
    if {"transactional_db", "live_server", "django_db_reset_sequences", "django_db_serialized_rollback"} & set(
        fixturenames
    ):
        return True
    if marker is None:
        return False
    from pytest_django.fixtures import validate_django_db

    transaction, reset_sequences, _databases, serialized_rollback, _apps = validate_django_db(marker)
    return bool(transaction or reset_sequences or serialized_rollback)


def write_samples(server: Any, rows: Iterable[SampleRow], *, seen: bool = False):
    """Samples of ``server`` in one batch (as one request carries them) through the one write path.

    ``seen``: the host is marked seen at its latest sample, as an agent's report does."""
    from monitoring.records import Batch
    from monitoring.storage import write

    batch = Batch()
    latest = None
    for metric_type, name, labels, ts, value in rows:
        batch.add_sample(server.id, metric_type, name, labels, ts, value)
        latest = ts if latest is None else max(latest, ts)
    if seen and latest is not None:
        batch.seen[str(server.id)] = latest
    return write(batch)


def write_series(server: Any, metric_type: str, name: str, points: Iterable[tuple[datetime, float]], labels=None):
    """One series' points in one report of ``server``'s agent (the host is seen at the latest point)."""
    return write_samples(server, [(metric_type, name, labels or {}, ts, value) for ts, value in points], seen=True)


def write_logs(lines: Iterable[LogLine], *, server: Any = None, now: datetime | None = None):
    """Log lines in one batch through the one write path; a line's time is a datetime or seconds before ``now``."""
    from monitoring.records import Batch, LogRecord
    from monitoring.storage import write

    now = now or datetime.now(UTC)
    server_id = getattr(server, "id", server)
    batch = Batch(
        logs=[
            LogRecord(
                ts=when if isinstance(when, datetime) else now - timedelta(seconds=when),
                server_id=server_id,
                service=service,
                level=level,
                message=message,
            )
            for when, service, level, message in lines
        ]
    )
    return write(batch)


def write_service_logs(server: Any, service: str, lines: Iterable[tuple[datetime, str, str]]):
    """One service's lines (ts, level, message) of ``server`` (None: no host)."""
    return write_logs([(ts, service, level, message) for ts, level, message in lines], server=server)
