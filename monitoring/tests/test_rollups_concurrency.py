"""A writer still in flight while upkeep refreshes the roll-ups is not lost: its buckets wait for the next run."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction

from monitoring import partitions, rollups, storage
from monitoring.records import Batch


@pytest.mark.django_db(transaction=True)
def test_samples_committed_after_a_refresh_claimed_the_queue_are_rolled_up_next_time(web01, settings):
    settings.ROLLUP_LATE_SECONDS = 3 * 86400
    ts = (datetime.now(UTC) - timedelta(days=1)).replace(hour=9, minute=30, second=0, microsecond=0)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM monitoring_rollupdirty")  # what earlier committed tests left
        with transaction.atomic():
            partitions.ensure(cursor, "monitoring_sample", [ts.date()])
    written, release, failed = threading.Event(), threading.Event(), []

    def writer():
        try:
            with transaction.atomic():
                batch = Batch()
                batch.add_sample(web01.id, "cpu", "concurrency", {}, ts + timedelta(seconds=7), 42.0)
                result = storage.write(batch)
                written.set()
                release.wait(20)
            if result.samples != 1:
                failed.append("not written")
        except Exception as error:  # noqa: BLE001 - reported to the test thread
            failed.append(error)
            written.set()
        finally:
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert written.wait(20)
        during = rollups.refresh()  # the writer's queue row is not committed yet: invisible
    finally:
        release.set()
        thread.join(20)
    assert failed == []
    assert during.minutes == 0
    after = rollups.refresh()
    assert after.minutes >= 1
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT r.count, r.last FROM monitoring_rollup1m r JOIN monitoring_series s ON s.id = r.series_id
            WHERE s.name = 'concurrency' AND r.bucket = %s
            """,
            [ts],
        )
        assert cursor.fetchall() == [(1, 42.0)]
        cursor.execute("DELETE FROM monitoring_sample WHERE ts = %s", [ts + timedelta(seconds=7)])
