"""An agent posts again: a retry is stored once, new data is always stored.

A body's digest names a retry only when every record in it carries its own
timestamp; otherwise only an Idempotency-Key header does.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from ingest.tests.payloads import SEED002_BODY
from monitoring.models import LogEntry, Sample
from servers.models import Server

pytestmark = pytest.mark.django_db

IDLE_SNAPSHOT = {"host": "web-01", "metrics": {"cpu_usage": 0.0, "memory_usage": 12.0}}


def test_an_idle_host_posting_the_same_values_without_timestamps_has_every_post_stored(agent, web01):
    for _ in range(3):
        response = agent.post("/ingest", IDLE_SNAPSHOT, content_type="application/json")
        assert response.status_code == 200
        assert response.json()["duplicate"] is False

    assert Sample.objects.filter(series__name="cpu_usage").count() == 3


def test_bulk_metrics_without_timestamps_are_stored_each_time(agent, web01):
    body = {"metrics": [{"metric_type": "cpu", "metric_name": "usage", "value": 1.0}]}
    for _ in range(2):
        assert agent.post("/api/v1/ingest", body, content_type="application/json").status_code == 202

    assert Sample.objects.count() == 2


def test_bulk_metrics_all_with_timestamps_are_a_retry(agent, web01):
    body = {"metrics": [{"metric_type": "cpu", "metric_name": "usage", "value": 1.0, "timestamp": _recent()}]}
    for _ in range(2):
        agent.post("/api/v1/ingest", body, content_type="application/json")

    assert Sample.objects.count() == 1


def test_the_same_log_line_sent_to_two_services_is_stored_for_both(fleet):
    line = {"timestamp": _recent(), "level": "INFO", "message": "cache warmed"}
    for service in ("billing", "search"):
        response = fleet.post(f"/api/logs/stream/{service}/single", line, content_type="application/json")
        assert response.status_code == 202
        assert response.json()["status"] == "accepted"

    assert sorted(LogEntry.objects.values_list("service", flat=True)) == ["billing", "search"]


def test_a_log_line_without_a_timestamp_sent_twice_is_stored_twice(fleet):
    line = {"level": "INFO", "message": "heartbeat"}
    for _ in range(2):
        fleet.post("/api/logs/stream/billing/single", line, content_type="application/json")

    assert LogEntry.objects.count() == 2


def test_two_long_idempotency_keys_sharing_a_prefix_are_two_requests(agent, web01):
    prefix = "batch-" + "x" * 100
    for n in range(2):
        body = {**SEED002_BODY, "timestamp": SEED002_BODY["timestamp"] + n}
        agent.post("/ingest/metrics", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=f"{prefix}{n}")

    assert Sample.objects.count() == 2 * 4  # two tables: cpu_usage and the process's cpu, memory, pids


def test_an_idempotency_key_is_per_path(agent, web01):
    agent.post("/ingest/metrics", SEED002_BODY, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1")
    response = agent.post("/ingest", IDLE_SNAPSHOT, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1")

    assert response.json()["duplicate"] is False
    assert Sample.objects.filter(series__name="cpu_usage").count() == 2


def test_a_duplicate_still_refreshes_last_seen(agent, web01):
    agent.post("/ingest/metrics", SEED002_BODY, content_type="application/json")
    Server.objects.filter(pk=web01.pk).update(last_seen=timezone.now() - timedelta(hours=1))

    again = agent.post("/ingest/metrics", SEED002_BODY, content_type="application/json")

    assert again.json()["duplicate"] is True
    web01.refresh_from_db()
    assert timezone.now() - web01.last_seen < timedelta(minutes=1)


def _recent() -> str:
    return (timezone.now() - timedelta(minutes=5)).isoformat()
