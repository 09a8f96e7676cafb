"""Roll-ups follow the samples: incremental, idempotent, late samples included, same answers as raw."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import connection

from monitoring import rollups

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _late_horizon(settings):
    # the samples of these tests are a day old: let them count as late, not as history
    settings.ROLLUP_LATE_SECONDS = 3 * 86400


@pytest.fixture(autouse=True)
def _empty_rollups(db):
    # tests with a live worker commit samples and roll-ups that a flush (Django's tables only) leaves behind
    with connection.cursor() as cursor:
        for table in ("monitoring_rollupdirty", "monitoring_rollup1m", "monitoring_rollup1h"):
            cursor.execute(f"DELETE FROM {table}")


def _base() -> datetime:
    # yesterday 10:00 UTC, well before the buckets that queries read from raw
    return (datetime.now(UTC) - timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)


def _rows(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT series_id, bucket, min, max, sum, count, last, last_ts FROM {table} ORDER BY 1, 2")
        return cursor.fetchall()


def _queued() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM monitoring_rollupdirty")
        return cursor.fetchone()[0]


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_minute_and_hour_rollups_hold_what_the_samples_say(web01, write_samples):
    base = _base()
    values = [5.0, 1.0, 9.0, 3.0]  # 10:00:00, 10:00:30, 10:01:00, 11:00:15
    times = [base, base + timedelta(seconds=30), base + timedelta(minutes=1), base + timedelta(hours=1, seconds=15)]
    write_samples(web01, [("cpu", "usage", {}, t, v) for t, v in zip(times, values, strict=True)])
    assert _queued() == 3
    result = rollups.refresh()
    assert (result.minutes, result.hours) == (3, 2)
    assert _queued() == 0
    minutes = [(r[1], r[2], r[3], r[4], r[5], r[6], r[7]) for r in _rows("monitoring_rollup1m")]
    assert minutes == [
        (base, 1.0, 5.0, 6.0, 2, 1.0, times[1]),
        (base + timedelta(minutes=1), 9.0, 9.0, 9.0, 1, 9.0, times[2]),
        (base + timedelta(hours=1), 3.0, 3.0, 3.0, 1, 3.0, times[3]),
    ]
    hours = [(r[1], r[2], r[3], r[4], r[5], r[6]) for r in _rows("monitoring_rollup1h")]
    assert hours == [(base, 1.0, 9.0, 15.0, 3, 9.0), (base + timedelta(hours=1), 3.0, 3.0, 3.0, 1, 3.0)]


def test_refreshing_twice_changes_nothing(web01, write_samples):
    base = _base()
    write_samples(web01, [("cpu", "usage", {}, base + timedelta(seconds=s), float(s)) for s in range(0, 300, 7)])
    rollups.refresh()
    first = (_rows("monitoring_rollup1m"), _rows("monitoring_rollup1h"))
    assert rollups.refresh().minutes == 0
    with connection.cursor() as cursor:  # the same buckets queued again are recomputed to the same rows
        cursor.execute("INSERT INTO monitoring_rollupdirty SELECT series_id, bucket FROM monitoring_rollup1m")
        cursor.execute("INSERT INTO monitoring_rollupdirty SELECT series_id, bucket FROM monitoring_rollup1m")
    assert rollups.refresh().minutes == 5
    assert (_rows("monitoring_rollup1m"), _rows("monitoring_rollup1h")) == first


def test_a_late_sample_updates_its_minute_and_hour(web01, write_samples):
    base = _base()
    write_samples(web01, [("cpu", "usage", {}, base + timedelta(seconds=10), 4.0)])
    rollups.refresh()
    write_samples(web01, [("cpu", "usage", {}, base + timedelta(seconds=50), 2.0)])  # same minute, later
    write_samples(web01, [("cpu", "usage", {}, base + timedelta(seconds=5), 10.0)])  # earlier than the first
    rollups.refresh()
    (minute,) = _rows("monitoring_rollup1m")
    assert minute[2:7] == (2.0, 10.0, 16.0, 3, 2.0)
    (hour,) = _rows("monitoring_rollup1h")
    assert hour[2:7] == (2.0, 10.0, 16.0, 3, 2.0)


def test_a_backfilled_sample_older_than_the_horizon_is_rolled_up_by_upkeep(web01, write_samples, settings):
    settings.ROLLUP_LATE_SECONDS = 3600
    old = (datetime.now(UTC) - timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
    result = write_samples(web01, [("cpu", "usage", {}, old + timedelta(seconds=s), float(s)) for s in (10, 20, 70)])
    assert result.samples == 3
    assert _queued() == 2
    rollups.refresh()
    minutes = [(r[1], r[5], r[4]) for r in _rows("monitoring_rollup1m")]
    assert minutes == [(old, 2, 30.0), (old + timedelta(minutes=1), 1, 70.0)]
    assert [(r[1], r[5]) for r in _rows("monitoring_rollup1h")] == [(old, 3)]


def test_a_refresh_already_running_makes_the_second_one_skip_and_keep_the_queue(web01, write_samples):
    write_samples(web01, [("cpu", "usage", {}, _base(), 1.0)])
    db = django_settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or None,
        dbname=connection.settings_dict["NAME"],
        user=db["USER"],
        password=db["PASSWORD"] or None,
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [rollups.LOCK_KEY])
        result = rollups.refresh()
        other.execute("SELECT pg_advisory_unlock(%s)", [rollups.LOCK_KEY])
    assert result.busy and result.minutes == 0
    assert _queued() == 1
    assert rollups.refresh().minutes == 1


def test_rebuild_recomputes_history_that_was_never_queued(web01, write_samples):
    old = datetime(2025, 11, 20, 10, 0, tzinfo=UTC)
    write_samples(web01, [("cpu", "usage", {}, old + timedelta(seconds=20 * i), float(i)) for i in range(200)])
    with connection.cursor() as cursor:  # as if restored from a dump: in the table, never queued
        cursor.execute("DELETE FROM monitoring_rollupdirty")
    result = rollups.rebuild(old, old + timedelta(days=1))
    assert result.minutes == 67 and result.hours == 2
    assert sum(r[5] for r in _rows("monitoring_rollup1m")) == 200


@pytest.mark.parametrize("agg", ["avg", "min", "max", "sum", "count", "last"])
def test_raw_and_rollups_agree_on_the_same_buckets(api, web01, write_samples, agg):
    rng = random.Random(4)
    base = _base()
    samples = []
    for i in range(3 * 360):  # three hours, every 10 s, a little jitter
        ts = base + timedelta(seconds=10 * i + rng.randint(0, 9))
        samples.append(("cpu", "usage", {"core": "0"}, ts, round(rng.uniform(0, 100), 3)))
    write_samples(web01, samples)
    rollups.refresh()
    window = {"from": _iso(base), "to": _iso(base + timedelta(hours=2, minutes=59)), "agg": agg}

    def points(step, source):
        response = api.get("/api/v1/metrics", {**window, "step": step, "source": source})
        assert response.status_code == 200
        return response.json()[0]["points"]

    for step, sources in (("5m", ("raw", "1m")), ("1h", ("raw", "1m", "1h"))):
        answers = [points(step, source) for source in sources]
        for other in answers[1:]:
            assert [p[0] for p in other] == [p[0] for p in answers[0]]
            assert [p[1] for p in other] == pytest.approx([p[1] for p in answers[0]], rel=1e-12)
    auto = api.get("/api/v1/metrics", {**window, "step": "1h"})
    assert auto.headers["X-Metrics-Source"] == "1h"
    if agg == "count":
        assert [p[1] for p in auto.json()[0]["points"]] == [360.0, 360.0, 360.0]
    if agg == "sum":
        assert sum(p[1] for p in auto.json()[0]["points"]) == pytest.approx(sum(s[4] for s in samples))


def test_recent_buckets_come_from_raw_samples_before_upkeep_ran(api, web01, write_samples):
    now = datetime.now(UTC)
    write_samples(web01, [("cpu", "usage", {}, now - timedelta(seconds=5), 7.0)])
    response = api.get("/api/v1/metrics", {"from": _iso(now - timedelta(hours=1)), "step": "1m", "agg": "max"})
    assert response.headers["X-Metrics-Source"] == "1m"
    assert response.json()[0]["points"][-1][1] == 7.0
