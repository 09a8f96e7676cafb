"""Seed 002's GET /api/metrics/recent: every sample of the last RETENTION_SECONDS, newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.django_db


def test_recent_samples_come_newest_first_and_old_ones_are_left_out(api, web01, db02, write_samples):
    now = datetime.now(UTC)
    write_samples(
        web01,
        [
            ("cpu", "total_cpu_percent", {}, now - timedelta(seconds=200), 10.0),
            ("cpu", "total_cpu_percent", {}, now - timedelta(seconds=20), 30.0),
            ("cpu", "total_cpu_percent", {}, now - timedelta(seconds=400), 99.0),  # older than 300 s
        ],
    )
    write_samples(db02, [("ram", "used", {"unit": "mb"}, now - timedelta(seconds=100), 20.0)])
    body = api.get("/api/metrics/recent").json()
    assert [row["value"] for row in body] == [30.0, 20.0, 10.0]
    assert body[1] == {
        "timestamp": body[1]["timestamp"],
        "server_id": str(db02.id),
        "hostname": "db-02",
        "metric_type": "ram",
        "metric_name": "used",
        "labels": {"unit": "mb"},
        "value": 20.0,
    }
    assert body[1]["timestamp"].endswith("Z")


def test_recent_samples_of_one_server(api, web01, db02, write_samples):
    now = datetime.now(UTC)
    write_samples(web01, [("cpu", "usage", {}, now - timedelta(seconds=5), 1.0)])
    write_samples(db02, [("cpu", "usage", {}, now - timedelta(seconds=5), 2.0)])
    assert [r["value"] for r in api.get("/api/metrics/recent", {"server_id": str(db02.id)}).json()] == [2.0]
    assert [r["value"] for r in api.get("/api/metrics/recent", {"server": "web-01"}).json()] == [1.0]
    assert api.get("/api/metrics/recent", {"server_id": "nobody"}).json() == []


def test_recent_window_follows_the_retention_setting(api, web01, write_samples, settings):
    settings.RETENTION_SECONDS = 30
    now = datetime.now(UTC)
    write_samples(web01, [("cpu", "usage", {}, now - timedelta(seconds=s), float(s)) for s in (10, 60)])
    assert [r["value"] for r in api.get("/api/metrics/recent").json()] == [10.0]


def test_recent_limit(api, web01, write_samples):
    now = datetime.now(UTC)
    write_samples(web01, [("cpu", "usage", {}, now - timedelta(seconds=s), float(s)) for s in range(1, 6)])
    assert [r["value"] for r in api.get("/api/metrics/recent", {"limit": 2}).json()] == [1.0, 2.0]


@pytest.mark.parametrize("limit", ["0", "lots", "-1", "1000000"])
def test_a_bad_limit_is_a_400_naming_it(api, limit):
    response = api.get("/api/metrics/recent", {"limit": limit})
    assert response.status_code == 400
    assert "limit" in response.json()
