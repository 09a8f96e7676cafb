"""Each ingest request leaves one JSON line in DATA_DIR/logs/ingest.log (seed 000)."""

import logging
from datetime import UTC, datetime

import orjson
import pytest

from config.logging import JsonFormatter

pytestmark = pytest.mark.django_db


@pytest.fixture
def ingest_lines():
    lines = []

    class Keep(logging.Handler):
        def emit(self, record):
            lines.append(orjson.loads(JsonFormatter().format(record)))

    handler = Keep()
    logger = logging.getLogger("ingest.requests")
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


def test_a_stored_request_is_logged_with_its_counts(agent, ingest_lines):
    body = {
        "metrics": [
            {
                "metric_type": "cpu",
                "metric_name": "usage",
                "value": 45.2,
                "labels": {},
                "timestamp": datetime.now(UTC).isoformat(),
            }
        ]
    }
    response = agent.post("/api/v1/ingest", body, content_type="application/json")
    assert response.status_code < 300
    (line,) = ingest_lines
    assert line["path"] == "/api/v1/ingest" and line["status"] == response.status_code
    assert line["samples"] == 1 and line["duration_ms"] >= 0


def test_a_refused_request_is_logged_too(client, ingest_lines):
    response = client.post("/api/v1/ingest", {}, content_type="application/json")
    assert response.status_code == 401
    assert [(line["path"], line["status"]) for line in ingest_lines] == [("/api/v1/ingest", 401)]
