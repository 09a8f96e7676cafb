"""An agent retries a request it is not sure went through: nothing is stored twice."""

import pytest

from ingest.tests.payloads import SEED000_FULL, SEED002_BODY, seed001_body
from monitoring.models import Event, LogEntry, Sample

pytestmark = pytest.mark.django_db


def test_a_retried_bulk_request_is_stored_once(agent, web01):
    first = agent.post("/api/v1/ingest", seed001_body(web01.id), content_type="application/json")
    again = agent.post("/api/v1/ingest", seed001_body(web01.id), content_type="application/json")

    assert first.status_code == again.status_code == 202
    assert again.json()["duplicate"] is True
    assert Sample.objects.count() == 2


def test_a_retried_snapshot_is_stored_once(fleet):
    for _ in range(2):
        assert fleet.post("/ingest", SEED000_FULL, content_type="application/json").status_code == 200

    assert Sample.objects.count() == 7
    assert Event.objects.count() == 2
    assert LogEntry.objects.count() == 1


def test_an_idempotency_key_names_a_retry(agent, web01):
    later = {**SEED002_BODY, "timestamp": SEED002_BODY["timestamp"] + 1}
    agent.post("/ingest/metrics", SEED002_BODY, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1")
    agent.post("/ingest/metrics", later, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1")

    assert Sample.objects.count() == 4  # one table: cpu_usage and the process's cpu, memory, pids


def test_the_same_body_from_two_servers_is_stored_twice(client, web01, agent_token, db):
    from servers.models import AgentToken, Server

    other = Server.objects.create(hostname="web-02")
    other_token = AgentToken.issue("agent", server=other)[1]
    for token in (agent_token, other_token):
        response = client.post(
            "/ingest/metrics", SEED002_BODY, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
        )
        assert response.status_code == 200

    assert Sample.objects.count() == 8


def test_a_retry_after_the_idempotency_window_is_stored_again(agent, web01, settings):
    from datetime import timedelta

    from django.utils import timezone

    from ingest.tasks import forget_receipts
    from monitoring.models import IngestReceipt

    settings.INGEST_IDEMPOTENCY_SECONDS = 60
    agent.post("/ingest/metrics", SEED002_BODY, content_type="application/json")
    IngestReceipt.objects.update(created_at=timezone.now() - timedelta(seconds=61))

    assert forget_receipts() == 1
    agent.post("/ingest/metrics", SEED002_BODY, content_type="application/json")

    assert Sample.objects.count() == 8
