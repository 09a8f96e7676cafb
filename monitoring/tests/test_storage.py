"""The write path stores everything of a batch, once, in its day partitions."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction

from monitoring import partitions, storage
from monitoring.models import Event, LogEntry, Sample, Series, Snapshot
from monitoring.records import Batch, EventRecord, LogRecord, SnapshotRecord

pytestmark = pytest.mark.django_db


def _batch(server, ts):
    batch = Batch()
    batch.add_sample(server.id, "cpu", "usage", {"core": "0"}, ts, 45.2)
    batch.add_sample(server.id, "cpu", "usage", {"core": "0"}, ts + timedelta(seconds=10), 47.0)
    batch.add_sample(server.id, "ram", "usage_percent", {}, ts, 78.5)
    batch.logs.append(LogRecord(ts, server.id, "web-app", "ERROR", "Database connection failed", {"code": 1}))
    batch.events.append(EventRecord(ts, server.id, "docker", "container", {"action": "start"}))
    batch.snapshots.append(SnapshotRecord(server.id, ts, payload={"score": 0.7}, score=0.7))
    batch.seen[str(server.id)] = ts
    return batch


def test_batch_is_stored_whole(web01):
    ts = datetime(2025, 11, 20, 10, 0, tzinfo=UTC)
    result = storage.write(_batch(web01, ts))
    assert (result.samples, result.logs, result.events, result.series_created) == (3, 1, 1, 2)
    assert Series.objects.filter(server=web01).count() == 2
    cpu = Series.objects.get(server=web01, metric_type="cpu")
    assert cpu.labels == {"core": "0"}
    assert [s.value for s in Sample.objects.filter(series=cpu).order_by("ts")] == [45.2, 47.0]
    assert LogEntry.objects.get(server=web01).message == "Database connection failed"
    assert Event.objects.get(server=web01).data == {"action": "start"}
    assert Snapshot.objects.get(server=web01).score == 0.7
    web01.refresh_from_db()
    assert web01.last_seen == ts


def test_same_labels_in_another_order_are_one_series(web01):
    ts = datetime.now(UTC)
    batch = Batch()
    batch.add_sample(web01.id, "disk", "used", {"mount": "/", "dev": "sda"}, ts, 1)
    batch.add_sample(web01.id, "disk", "used", {"dev": "sda", "mount": "/"}, ts + timedelta(seconds=1), 2)
    storage.write(batch)
    storage.series_cache.clear()  # a second process, with an empty cache
    storage.write(batch)
    assert Series.objects.filter(metric_type="disk").count() == 1
    assert Sample.objects.count() == 4


def test_a_day_without_partition_gets_one(web01):
    far = datetime(2031, 2, 3, 4, 5, tzinfo=UTC)
    batch = Batch()
    batch.add_sample(web01.id, "cpu", "usage", {}, far, 1.0)
    storage.write(batch)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('monitoring_sample_p20310203') IS NOT NULL")
        assert cursor.fetchone()[0]


def test_a_new_day_opens_while_a_long_query_reads_the_samples(web01):
    # a roll-up refresh or a long chart reads the samples for seconds: a backfill opening a day meanwhile
    # is stored, it neither waits for that query nor makes every other writer wait behind it
    reader = connection.get_new_connection(connection.get_connection_params())
    try:
        reader.execute("SELECT count(*) FROM monitoring_sample")  # its transaction stays open, holding its lock
        day = datetime(2032, 3, 4, 5, 6, tzinfo=UTC)
        batch = Batch()
        batch.add_sample(web01.id, "cpu", "usage", {}, day, 1.0)
        storage.write(batch)
        assert Sample.objects.filter(series__server=web01, ts=day).count() == 1
    finally:
        reader.close()


def test_a_receipt_stores_a_retried_batch_once(web01):
    ts = datetime.now(UTC)
    first = storage.write(_batch(web01, ts), receipt="t1:abc")
    again = storage.write(_batch(web01, ts), receipt="t1:abc")
    assert not first.duplicate and again.duplicate
    assert Sample.objects.count() == 3
    assert LogEntry.objects.count() == 1


def _until_a_writer_waits_on_a_lock(seconds: float = 10) -> None:
    """Poll (with a deadline) until another session of this database waits on a lock."""
    from django.db import connection

    deadline = time.monotonic() + seconds
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_two_writers_opening_the_same_new_day_both_succeed():
    """The second writer waits for the first's partition and must not try to create it again."""
    import threading

    from django.db import connections

    day = datetime(2033, 4, 5, tzinfo=UTC).date()
    name = partitions.partition_name("monitoring_sample", day)
    created = threading.Event()
    errors = []

    def first_writer():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [name])
                partitions._create_partition(cursor.cursor, "monitoring_sample", name, day, day + timedelta(days=1))
                created.set()
                _until_a_writer_waits_on_a_lock()  # commit only once the other writer waits for it
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=first_writer)
    thread.start()
    try:
        created.wait(5)
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s)", [name])  # not there yet for this session
            assert cursor.fetchone()[0] is None
            partitions._create_alone(cursor.cursor, "monitoring_sample", day)
        thread.join()
        assert not errors
    finally:
        thread.join()
        partitions.forget()
        other = connection.get_new_connection(connection.get_connection_params())
        other.autocommit = True
        other.execute(f"DROP TABLE IF EXISTS {name}")
        other.close()


@pytest.mark.django_db(transaction=True)
def test_two_writers_creating_the_same_new_series_both_succeed(web01):
    """The second writer's upsert waits for the first and must still find the series' id."""
    import threading

    from django.db import connections

    ts = datetime.now(UTC)
    first_inserted = threading.Event()
    errors = []

    def slow_writer():
        try:
            with transaction.atomic():
                batch = Batch()
                batch.add_sample(web01.id, "race", "x", {"k": "v"}, ts, 1.0)
                storage.write(batch)
                first_inserted.set()
                _until_a_writer_waits_on_a_lock()  # hold the new series uncommitted while the other writer arrives
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    first_inserted.wait(5)
    storage.series_cache.clear()
    batch = Batch()
    batch.add_sample(web01.id, "race", "x", {"k": "v"}, ts + timedelta(seconds=1), 2.0)
    result = storage.write(batch)
    thread.join()
    assert not errors
    assert result.samples == 1
    assert Series.objects.filter(metric_type="race").count() == 1
    assert Sample.objects.filter(series__metric_type="race").count() == 2


def test_labels_postgresql_normalizes_still_find_their_series(web01):
    """jsonb has no negative zero (-0.0 comes back as 0.0): the writer must still find the series."""
    ts = datetime.now(UTC)
    batch = Batch()
    batch.add_sample(web01.id, "disk", "io", {"dev": 1.0, "offset": -0.0}, ts, 7.0)
    result = storage.write(batch)
    assert result.samples == 1
    storage.series_cache.clear()
    again = Batch()
    again.add_sample(web01.id, "disk", "io", {"dev": 1.0, "offset": -0.0}, ts + timedelta(seconds=1), 8.0)
    storage.write(again)
    assert Series.objects.filter(metric_type="disk", name="io").count() == 1
    assert Sample.objects.filter(series__name="io").count() == 2
