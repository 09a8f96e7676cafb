"""Prometheus scrapes the console's own /metrics; /health tells a dead evaluation beat."""

import json
import time
import urllib.parse
import urllib.request

import pytest
from django.utils import timezone

from alerts import health
from alerts.models import AlertRule, Delivery, NotificationChannel
from monitoring.tests.conftest import running_prometheus

pytestmark = pytest.mark.django_db


def scrape(client, **headers):
    return client.get("/metrics", **headers)


def test_a_person_reads_the_consoles_metrics_after_an_ingest(client, agent_token, bob_token):
    body = {"metrics": [{"metric_type": "cpu", "metric_name": "usage", "value": 1.5}]}
    response = client.post(
        "/api/v1/ingest", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {agent_token}"
    )
    assert response.status_code == 202
    client.post("/api/v1/ingest", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {agent_token}")
    health.record_round({"rules": 4, "errors": 1, "seconds": 0.25})
    AlertRule.objects.create(name="cpu", metric_type="cpu", metric_name="usage", last_evaluated_at=timezone.now())
    channel = NotificationChannel.objects.create(name="ops-mail", kind="email", config={"to": ["ops@example.com"]})
    Delivery.objects.create(channel=channel, kind="firing", status="sent")
    response = scrape(client, HTTP_AUTHORIZATION=f"Bearer {bob_token}", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    for line in (
        'console_ingest_requests_total{code="202",path="/api/v1/ingest"}',
        'console_ingest_samples_total{code="202",path="/api/v1/ingest"}',
        'console_ingest_bytes_total{code="202",path="/api/v1/ingest"}',
        'console_ingest_request_duration_seconds_bucket{le="0.005",path="/api/v1/ingest"}',
        "console_storage_write_seconds_count",
        'console_http_request_duration_seconds_count{method="POST",route="api/v1/ingest"}',
        "console_websockets_open 0.0",
        "console_live_frames_published_total",
        "console_live_frames_dropped_total",
        'console_celery_queue_depth{queue="celery"}',
        'console_disk_bytes{family="samples"}',
        "console_evaluation_rounds_total",
        "console_evaluation_errors_total",
        "console_evaluation_last_round_age_seconds",
        "console_evaluation_rules 4.0",
        'console_notifications_total{channel="ops-mail",kind="email",outcome="sent"} 1.0',
    ):
        assert line in text, line


def test_scrapers_from_allowed_addresses_need_no_token(client, settings):
    settings.METRICS_ALLOWED_CIDRS = ["10.0.0.0/8"]
    assert scrape(client, REMOTE_ADDR="10.1.2.3").status_code == 200
    assert scrape(client, REMOTE_ADDR="192.0.2.1").status_code == 401


def test_agent_tokens_and_strangers_are_refused(client, agent_token, settings):
    settings.METRICS_ALLOWED_CIDRS = []
    assert scrape(client).status_code == 401
    assert scrape(client, HTTP_AUTHORIZATION=f"Bearer {agent_token}").status_code == 401


@pytest.mark.slow
def test_a_real_prometheus_scrapes_the_console(console_server, bob_token, tmp_path):
    console = urllib.parse.urlsplit(console_server)
    config = f"""
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: console
    authorization:
      credentials: {bob_token}
    static_configs:
      - targets: ["127.0.0.1:{console.port}"]
"""
    query = urllib.parse.urlencode({"query": 'up{job="console"} * on(instance) group_left console_websockets_open + 1'})
    with running_prometheus(tmp_path, config) as prometheus:
        deadline = time.monotonic() + 40
        found = []
        while time.monotonic() < deadline and not found:
            time.sleep(1)
            with urllib.request.urlopen(f"{prometheus}/api/v1/query?{query}", timeout=2) as response:
                found = json.loads(response.read())["data"]["result"]
        assert found, (tmp_path / "prometheus.log").read_text()[-2000:]
        assert found[0]["value"][1] == "1"
