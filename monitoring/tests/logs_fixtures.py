"""Writing log lines straight into the store for the read-side tests."""

from datetime import UTC, datetime, timedelta

from monitoring import records, storage


def write_logs(lines, *, now=None, server_id=None):
    """lines: (seconds ago, service, level, message) tuples."""
    now = now or datetime.now(UTC)
    batch = records.Batch(
        logs=[
            records.LogRecord(
                ts=now - timedelta(seconds=ago), server_id=server_id, service=service, level=level, message=message
            )
            for ago, service, level, message in lines
        ]
    )
    return storage.write(batch)
