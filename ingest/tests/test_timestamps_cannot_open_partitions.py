"""Agents send old, odd or scattered timestamps: refused or stored, never a 5xx, never a partition at will."""

import time
from datetime import UTC, date, datetime, timedelta

import orjson
import pytest
from django.db import connection

from monitoring import partitions
from monitoring.models import Event, LogEntry, Sample

pytestmark = pytest.mark.django_db

ODD_TIMESTAMPS = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "2026-01-01T00:00:00+23:59",
    "2026-13-45T00:00:00Z",
    "",
    1e300,
    -1e300,
    253402300800000,
    -62135596800,
    10**400,  # JSON allows integers of any length; no float holds this one
    True,
]


def _metric(ts) -> dict:
    return {"metrics": [{"metric_type": "cpu", "metric_name": "usage", "value": 1.0, "timestamp": ts}]}


def _ago(**delta) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


def test_a_sample_older_than_the_raw_retention_is_refused_naming_its_field(agent, web01, settings):
    settings.RAW_RETENTION_DAYS = 7
    body = {
        "metrics": [_metric(_ago(hours=1).isoformat())["metrics"][0], _metric(_ago(days=8).isoformat())["metrics"][0]]
    }

    response = agent.post("/api/v1/ingest", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "metrics[1].timestamp"
    assert "RAW_RETENTION_DAYS" in response.json()["errors"][0]["message"]
    assert not Sample.objects.exists()


def test_a_log_line_older_than_the_raw_retention_is_refused(fleet, settings):
    settings.RAW_RETENTION_DAYS = 7
    line = {"timestamp": _ago(days=30).isoformat(), "level": "INFO", "message": "old"}

    response = fleet.post("/api/logs/stream/billing/single", line, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "log.timestamp"
    assert not LogEntry.objects.exists()


def test_an_event_older_than_the_raw_retention_is_refused(agent, settings):
    settings.RAW_RETENTION_DAYS = 7
    body = {"source": "api", "event_type": "x", "data": {}, "timestamp": _ago(days=9).isoformat()}

    response = agent.post("/api/v1/monitoring/events", body, content_type="application/json")

    assert response.status_code == 400
    assert "timestamp" in response.content.decode()
    assert not Event.objects.exists()


def test_collectd_values_older_than_the_raw_retention_are_skipped_and_counted(client, fleet_token, settings):
    settings.RAW_RETENTION_DAYS = 7
    fresh = {
        "values": [1.0],
        "dstypes": ["gauge"],
        "dsnames": ["value"],
        "host": "db-03",
        "plugin": "load",
        "type": "load",
    }
    body = [{**fresh, "time": time.time()}, {**fresh, "time": time.time() - 30 * 86400}]

    response = client.post(
        "/api/v1/collectd",
        orjson.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {fleet_token}",
    )

    assert response.status_code == 200
    assert response.json()["samples"] == 1
    assert response.json()["skipped"] == 1


@pytest.mark.parametrize("ts", ODD_TIMESTAMPS, ids=repr)
def test_no_timestamp_however_odd_answers_anything_but_2xx_or_400(agent, fleet, web01, ts):
    answers = [
        agent.post("/api/v1/ingest", _metric(ts), content_type="application/json"),
        fleet.post(
            "/ingest", {"host": "web-01", "timestamp": ts, "metrics": {"cpu_usage": 1}}, content_type="application/json"
        ),
        agent.post("/ingest/metrics", {"timestamp": ts, "total_cpu_percent": 1}, content_type="application/json"),
        fleet.post(
            "/api/logs/stream/billing/single",
            {"timestamp": ts, "level": "INFO", "message": "x"},
            content_type="application/json",
        ),
        agent.post(
            "/api/v1/monitoring/events",
            {"source": "a", "event_type": "b", "data": {}, "timestamp": ts},
            content_type="application/json",
        ),
    ]

    assert [a.status_code for a in answers if not (200 <= a.status_code < 300 or a.status_code == 400)] == []


def test_a_request_creates_partitions_for_at_most_two_new_days(agent, web01, settings):
    settings.RAW_RETENTION_DAYS = 3650
    days = [_ago(days=3000 + n).replace(hour=12) for n in range(3)]
    body = {"metrics": [_metric(day.isoformat())["metrics"][0] for day in days]}

    first = agent.post("/api/v1/ingest", body, content_type="application/json")

    assert first.status_code == 503
    assert first["Retry-After"] == "1"
    assert len(_sample_partitions_for(days)) == 2
    assert not Sample.objects.exists()

    again = agent.post("/api/v1/ingest", body, content_type="application/json")

    assert again.status_code == 202
    assert len(_sample_partitions_for(days)) == 3
    assert Sample.objects.count() == 3


def test_partition_names_are_zero_padded_and_retention_finds_every_one(db):
    assert partitions.partition_name("monitoring_sample", date(1, 1, 1)) == "monitoring_sample_p00010101"
    with connection.cursor() as cursor:
        # a name from before zero padding, for year 999
        cursor.execute(
            'CREATE TABLE "monitoring_sample_p9990101" PARTITION OF monitoring_sample '
            "FOR VALUES FROM ('0999-01-01 00:00+00') TO ('0999-01-02 00:00+00')"
        )
        partitions.ensure(cursor, "monitoring_sample", [date(1000, 1, 1)])
        found = [name for name, _ in partitions.existing(cursor, "monitoring_sample")][:2]
        dropped = partitions.drop_before(cursor, "monitoring_sample", datetime(2000, 1, 1, tzinfo=UTC))

    assert found == ["monitoring_sample_p9990101", "monitoring_sample_p10000101"]
    assert dropped[:2] == found


def _sample_partitions_for(days: list[datetime]) -> list[str]:
    names = [partitions.partition_name("monitoring_sample", day.date()) for day in days]
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM unnest(%s::text[]) AS name WHERE to_regclass(name) IS NOT NULL", [names])
        return [name for (name,) in cursor.fetchall()]
