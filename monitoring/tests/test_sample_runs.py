"""An agent sending several points of a series in one request: stored as one run, read as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from monitoring import rollups, upkeep
from monitoring.models import Sample

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 11, 20, 23, 50, 3, 250_000, tzinfo=UTC)  # ten minutes before midnight


def _points(i: int) -> list[tuple[str, str, dict, datetime, float]]:
    ts = T0 + timedelta(seconds=10 * i)
    return [("cpu", "usage", {"core": str(core)}, ts, round(40 + core + (i * 7 % 11) * 0.5, 2)) for core in range(3)]


def _count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        return cursor.fetchone()[0]


QUERIES = [
    {},
    {"from": "2025-11-20T23:50:00Z", "to": "2025-11-21T00:30:00Z"},
    {"from": "2025-11-20T23:51:00Z", "to": "2025-11-20T23:52:13.250Z"},
    {"from": "2025-11-20T23:00:00Z", "to": "2025-11-21T01:00:00Z", "step": "30s", "agg": "last"},
    {"from": "2025-11-20T23:00:00Z", "to": "2025-11-21T01:00:00Z", "step": "30s", "agg": "avg"},
    {"from": "2025-11-20T23:00:00Z", "to": "2025-11-21T01:00:00Z", "step": "1m", "agg": "max"},
    {"from": "2025-11-20T00:00:00Z", "to": "2025-11-22T00:00:00Z", "step": "1h", "agg": "count"},
]


def _answers(api, server) -> list:
    out = []
    for query in QUERIES:
        body = api.get("/api/v1/metrics", {"server_id": str(server.id), **query}).json()
        out.append([(s["labels"], s["points"]) for s in body])
    return out


def test_points_sent_in_one_request_read_the_same_as_points_sent_one_by_one(api, web01, db02, write_samples):
    # web-01 sends 40 minutes in one request (runs); db-02 the same points a scrape at a time (rows)
    write_samples(web01, [p for i in range(240) for p in _points(i)])
    for i in range(240):
        write_samples(db02, _points(i))
    assert _count("monitoring_sample_run") > 0
    assert _count("monitoring_sample") == 3 * 240  # db-02's alone
    rollups.refresh()
    assert _answers(api, web01) == _answers(api, db02)
    assert Sample.objects.filter(series__server=web01).count() == 3 * 240


def test_a_run_never_crosses_midnight_nor_spans_more_than_ten_minutes(web01, write_samples):
    write_samples(web01, [p for i in range(240) for p in _points(i)])  # 23:50:03 to 00:29:53
    with connection.cursor() as cursor:
        cursor.execute("SELECT first_ts, last_ts, cardinality(ts) FROM monitoring_sample_run ORDER BY 1")
        runs = cursor.fetchall()
    assert all(first.date() == last.date() and last - first <= timedelta(minutes=10) for first, last, _ in runs)
    assert sum(n for _, _, n in runs) == 3 * 240
    assert len({first for first, _, _ in runs}) == 4  # before midnight, then three of at most 10 minutes


def test_upkeep_folds_runs_into_the_chunks_of_a_closed_day(api, web01, write_samples):
    write_samples(web01, [p for i in range(60) for p in _points(i)])  # before midnight: 2025-11-20
    rollups.refresh()
    before = _answers(api, web01)
    report = upkeep.upkeep()
    assert [(d.day.isoformat(), d.samples) for d in report.compaction.days][0] == ("2025-11-20", 3 * 60)
    assert _count("monitoring_sample_run") == 0
    assert _answers(api, web01) == before
