"""Upkeep compacts closed days; people reading them see exactly what they saw before; late data is kept."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection

from monitoring import charts, chunks, compaction, upkeep
from monitoring.models import Series

pytestmark = pytest.mark.django_db

DAY = datetime(2025, 11, 20, tzinfo=UTC)
NOW = datetime(2025, 11, 23, 12, 0, tzinfo=UTC)


def _a_day_of_agent_data(web01, write_samples, *, seconds: int = 6 * 3600) -> None:
    """Two series every 10 s from DAY 06:00: one on exact ticks, one late by up to 90 ms; a counter, a gauge."""
    rng = random.Random(15)
    level, counter = 42.0, 1_000_000.0
    batch = []
    for tick in range(0, seconds, 10):
        ts = DAY + timedelta(hours=6, seconds=tick)
        level = round(min(100.0, max(0.0, level + rng.uniform(-3, 3))), 2)
        counter += rng.randint(0, 50_000)
        batch.append(("cpu", "usage", {"core": "0"}, ts, level))
        batch.append(("net", "rx_bytes", {}, ts + timedelta(microseconds=rng.randint(0, 90_000)), counter))
        if tick == 3600:  # two samples at the same instant: readers break the tie by the larger value
            batch.append(("cpu", "usage", {"core": "0"}, ts, level + 1))
        if len(batch) >= 1000:
            write_samples(web01, batch)
            batch = []
    write_samples(web01, batch)


def _rows_left(day: datetime) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM monitoring_sample_open WHERE ts >= %s AND ts < %s", [day, day + timedelta(days=1)]
        )
        return cursor.fetchone()[0]


def _chunks(day: datetime) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(sum(count), 0) FROM monitoring_sample_chunk WHERE day = %s", [day])
        return cursor.fetchone()[0]


QUERIES = [
    {},  # the latest value of each series
    {"from": "2025-11-20T06:00:00Z", "to": "2025-11-20T06:20:00Z"},  # raw points
    {"from": "2025-11-20T07:00:00.050Z", "to": "2025-11-20T07:00:30.010Z"},  # raw, bounds inside jitter
    *(
        {"from": "2025-11-20T05:00:00Z", "to": "2025-11-21T00:00:00Z", "step": "15s", "agg": agg}
        for agg in ("avg", "min", "max", "sum", "count", "last")
    ),
    {"from": "2025-11-19T00:00:00Z", "to": "2025-11-22T00:00:00Z", "step": "7m", "agg": "avg", "source": "raw"},
    {"from": "2025-11-20T00:00:00Z", "to": "2025-11-21T00:00:00Z", "step": "5m"},  # 1-minute roll-ups
    {"from": "2025-11-20T00:00:00Z", "to": "2025-11-21T00:00:00Z", "step": "1h"},  # 1-hour roll-ups
]


def _answers(api) -> list:
    return [api.get("/api/v1/metrics", {"server_id": "web-01", **q}).json() for q in QUERIES]


def test_upkeep_compacts_a_closed_day_and_every_read_answers_as_before(api, web01, write_samples):
    _a_day_of_agent_data(web01, write_samples)
    upkeep.upkeep(now=NOW, compact=False)  # roll-ups first, as they would be long before the day closes
    before = _answers(api)
    series = list(Series.objects.filter(server=web01))
    chart_before = charts.chart_payload(series, charts.range_for("24h"), end=DAY + timedelta(hours=20))
    stored = _rows_left(DAY)

    report = upkeep.upkeep(now=NOW)

    assert [(d.day, d.samples, d.series, d.late) for d in report.compaction.days] == [(DAY.date(), stored, 2, 0)]
    assert _rows_left(DAY) == 0 and _chunks(DAY) == stored
    after = _answers(api)
    for query, old, new in zip(QUERIES, before, after, strict=True):
        assert new == old, query
    assert sum(len(s["points"]) for s in before[1]) == 2 * 120 + 1  # 06:20:00 itself, on the exact ticks
    assert charts.chart_payload(series, charts.range_for("24h"), end=DAY + timedelta(hours=20)) == chart_before


def test_a_late_sample_for_a_compacted_day_is_read_at_once_and_folded_in_at_the_next_upkeep(api, web01, write_samples):
    _a_day_of_agent_data(web01, write_samples, seconds=600)
    upkeep.upkeep(now=NOW)
    assert _rows_left(DAY) == 0
    late = DAY + timedelta(hours=6, seconds=5)  # between two ticks already compacted
    write_samples(web01, [("cpu", "usage", {"core": "0"}, late, 99.5)])

    raw = {"server_id": "web-01", "metric_type": "cpu", "from": "2025-11-20T06:00:00Z", "to": "2025-11-20T06:00:10Z"}
    points = api.get("/api/v1/metrics", raw).json()[0]["points"]
    assert points[1] == ["2025-11-20T06:00:05Z", 99.5] and len(points) == 3
    report = upkeep.upkeep(now=NOW)
    assert report.compaction.late == 1
    assert any("1 late sample" in line for line in report.lines())
    assert _rows_left(DAY) == 0 and _chunks(DAY) == 2 * 60 + 1
    assert api.get("/api/v1/metrics", raw).json()[0]["points"] == points


def test_a_day_still_open_to_on_time_data_is_not_compacted(web01, write_samples, settings):
    settings.ROLLUP_LATE_SECONDS = 3600
    write_samples(web01, [("cpu", "usage", {}, DAY + timedelta(hours=23, minutes=30), 1.0)])
    report = upkeep.upkeep(now=DAY + timedelta(days=1, minutes=30))  # 00:30: the day may still get on-time data
    assert report.compaction.days == [] and _rows_left(DAY) == 1
    report = upkeep.upkeep(now=DAY + timedelta(days=1, hours=1))
    assert [d.day for d in report.compaction.days] == [DAY.date()] and _rows_left(DAY) == 0


def test_manage_py_upkeep_says_which_days_it_compacted_and_dry_run_changes_nothing(web01, write_samples):
    write_samples(web01, [("cpu", "usage", {}, DAY + timedelta(hours=1), 1.0)])
    out = io.StringIO()
    call_command("upkeep", "--dry-run", stdout=out)
    assert "would compact 2025-11-20" in out.getvalue()
    assert _rows_left(DAY) == 1
    out = io.StringIO()
    call_command("upkeep", stdout=out)
    assert "compacted 2025-11-20: 1 samples of 1 series" in out.getvalue()
    assert _rows_left(DAY) == 0 and _chunks(DAY) == 1


@pytest.mark.parametrize(
    "values",
    [
        [1.25, 1.5, -3.75, 1e-9, 0.1 + 0.2],  # decimals, and a sum no decimal writes exactly
        [0.0, -0.0, 5e-324, 1.7976931348623157e308, -1.7976931348623157e308],
        [float("nan"), float("inf"), float("-inf"), 2.0**60, 3.0],
        [7.0] * 5,
    ],
)
def test_a_chunk_gives_back_every_sample_bit_for_bit(values):
    stamps = np.array([0, 10_000_000, 10_000_000, 20_000_017, 86_399_999_999], dtype=np.int64) + 1_700_000_000_000_000
    values = np.array(values, dtype=np.float64)
    got_stamps, got_values = chunks.decode(chunks.encode(stamps, values))
    assert got_stamps.tolist() == stamps.tolist()
    assert got_values.view(np.int64).tolist() == values.view(np.int64).tolist()


def test_a_chunk_of_one_sample():
    stamps, values = chunks.decode(chunks.encode(np.array([123], dtype=np.int64), np.array([4.5])))
    assert stamps.tolist() == [123] and values.tolist() == [4.5]


def test_samples_of_open_days_are_read_without_looking_for_chunks(django_assert_num_queries):
    now = datetime.now(UTC)
    with django_assert_num_queries(0):
        assert "monitoring_sample_chunk" not in compaction.samples_from(now - timedelta(minutes=5), now)
