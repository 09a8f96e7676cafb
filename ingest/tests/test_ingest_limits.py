"""An agent sends too much, too often, or while Redis is away."""

import socket

import orjson
import pytest
from django.test import override_settings

from ingest.base import rate_limiter
from ingest.tests.payloads import SEED002_BODY, seed001_body
from monitoring.models import Sample

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@override_settings(INGEST_MAX_BODY_BYTES=1000)
def test_a_body_over_the_limit_is_413(agent, web01):
    body = seed001_body(web01.id)
    body["metrics"] = body["metrics"] * 20

    response = agent.post("/api/v1/ingest", orjson.dumps(body), content_type="application/json")

    assert response.status_code == 413
    assert not Sample.objects.exists()


@override_settings(AGENT_RATE_LIMIT_PER_MINUTE=2)
def test_more_requests_than_the_rate_limit_is_429_with_retry_after(agent, web01):
    statuses = []
    for second in range(3):
        body = {**SEED002_BODY, "timestamp": SEED002_BODY["timestamp"] + second}
        statuses.append(agent.post("/ingest/metrics", body, content_type="application/json"))

    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert 1 <= int(statuses[2]["Retry-After"]) <= 61
    assert Sample.objects.count() == 2 * 4  # the refused request stored nothing


@override_settings(AGENT_RATE_LIMIT_PER_MINUTE=2)
def test_the_rate_limit_is_per_agent(client, agent_token, fleet_token, web01):
    for second, token in enumerate((agent_token, agent_token, fleet_token)):
        response = client.post(
            "/ingest/metrics",
            {**SEED002_BODY, "hostname": "web-01", "timestamp": SEED002_BODY["timestamp"] + second},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert response.status_code == 200


def test_redis_down_never_fails_ingest(agent, web01, settings):
    settings.AGENT_RATE_LIMIT_PER_MINUTE = 1
    settings.CACHE_REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"

    for second in range(3):
        body = {**SEED002_BODY, "timestamp": SEED002_BODY["timestamp"] + second}
        response = agent.post("/ingest/metrics", body, content_type="application/json")
        assert response.status_code == 200

    assert Sample.objects.count() == 3 * 4
    rate_limiter.reset()
