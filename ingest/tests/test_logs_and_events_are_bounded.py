"""A service sends a huge log line; an agent posts events and registers services too often."""

import pytest
from django.test import override_settings

from monitoring.models import Event, LogEntry

pytestmark = pytest.mark.django_db


@override_settings(LOG_MESSAGE_MAX_BYTES=1000)
def test_a_log_message_over_the_limit_is_stored_cut_with_a_marker_and_counted(fleet):
    line = {"level": "ERROR", "message": "Traceback: " + "é" * 5000}

    response = fleet.post("/api/logs/stream/billing/single", line, content_type="application/json")

    assert response.status_code == 202
    assert response.json()["logs_truncated"] == 1
    stored = LogEntry.objects.get().message
    assert stored.startswith("Traceback: éé")
    assert "truncated 10011 bytes to 1000" in stored
    assert len(stored.encode()) <= 1000


@override_settings(LOG_MESSAGE_MAX_BYTES=1000)
def test_a_seed000_log_over_the_limit_is_stored_cut(agent, web01):
    body = {"host": "web-01", "logs": [{"container": "app", "message": "x" * 2_000_000}]}

    response = agent.post("/ingest", body, content_type="application/json")

    assert response.status_code == 200
    assert response.json()["logs_truncated"] == 1
    assert len(LogEntry.objects.get().message) <= 1000


@override_settings(AGENT_RATE_LIMIT_PER_MINUTE=2)
def test_event_posts_count_against_the_agents_rate_limit(agent):
    event = {"source": "api", "event_type": "x", "data": {"response_time": 1}}
    answers = [agent.post("/api/v1/monitoring/events", event, content_type="application/json") for _ in range(3)]

    assert [a.status_code for a in answers] == [201, 201, 429]
    assert answers[2]["Retry-After"]
    assert Event.objects.count() == 2


@override_settings(AGENT_RATE_LIMIT_PER_MINUTE=1)
def test_service_registration_counts_against_the_rate_limit(fleet):
    answers = [
        fleet.post("/api/logs/services/register", {"service_name": f"svc-{n}"}, content_type="application/json")
        for n in range(2)
    ]

    assert [a.status_code for a in answers] == [201, 429]
