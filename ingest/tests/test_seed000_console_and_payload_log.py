"""Seed 000's touches: each snapshot pretty-printed on the console, payloads in ingest.log when asked for."""

import json
import logging

import orjson
import pytest

from config.logging import JsonFormatter
from ingest import fastpath
from ingest.tests.payloads import SEED000_FULL
from ingest.tests.test_ingest_under_daphne import post  # imports the ASGI app (and Django's logging) first

pytestmark = pytest.mark.django_db


def _keep(logger_name: str, formatter=None) -> list:
    lines = []

    class Keep(logging.Handler):
        def emit(self, record):
            lines.append(orjson.loads(JsonFormatter().format(record)) if formatter else record.getMessage())

    logging.getLogger(logger_name).addHandler(Keep())
    return lines


@pytest.fixture
def agent(client, fleet_token):
    """A Go agent posting with a fleet token (the seed's body names its own host)."""
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {fleet_token}"
    return client


@pytest.fixture
def ingest_lines():
    lines = _keep("ingest.requests", formatter=True)
    yield lines
    logging.getLogger("ingest.requests").handlers.pop()


@pytest.fixture
def printed():
    lines = _keep("ingest.snapshots")
    yield lines
    logging.getLogger("ingest.snapshots").handlers.pop()


def test_make_run_prints_each_received_snapshot_as_the_seed_did(agent, printed, settings):
    settings.INGEST_PRETTY_PRINT = True
    assert agent.post("/ingest", SEED000_FULL, content_type="application/json").status_code == 200
    [block] = printed
    assert "📊 MONITORING DATA RECEIVED - " in block
    assert f"🖥️  Host: {SEED000_FULL['host']}" in block
    assert f"  CPU Usage: {SEED000_FULL['metrics']['cpu_usage']:g}%" in block
    assert "  Network RX: 12,345 bytes/sec" in block
    for alert in SEED000_FULL["local_alerts"]:
        assert f"  ⚠️  {alert}" in block


def test_nothing_is_printed_when_it_is_off(agent, printed, settings):
    settings.INGEST_PRETTY_PRINT = False
    agent.post("/ingest", SEED000_FULL, content_type="application/json")
    assert printed == []


def test_the_log_line_carries_the_payload_when_asked(agent, ingest_lines, settings):
    settings.INGEST_LOG_PAYLOADS = True
    agent.post("/ingest", SEED000_FULL, content_type="application/json")
    [line] = ingest_lines
    assert line["payload"] == SEED000_FULL


def test_a_large_payload_is_cut_at_the_limit(agent, ingest_lines, settings):
    settings.INGEST_LOG_PAYLOADS = True
    settings.INGEST_LOG_PAYLOAD_BYTES = 100
    agent.post("/ingest", SEED000_FULL, content_type="application/json")
    [line] = ingest_lines
    assert line["payload_truncated"] is True
    assert line["payload"] == json.dumps(SEED000_FULL)[:100]  # as the test client sent it


def test_a_refused_request_logs_its_payload_too(client, ingest_lines, settings):
    settings.INGEST_LOG_PAYLOADS = True
    client.post("/ingest", {"host": "x"}, content_type="application/json")
    assert [(line["status"], line["payload"]) for line in ingest_lines] == [(401, {"host": "x"})]


def test_without_the_setting_no_payload_is_logged(agent, ingest_lines, settings):
    settings.INGEST_LOG_PAYLOADS = False
    agent.post("/ingest", SEED000_FULL, content_type="application/json")
    [line] = ingest_lines
    assert "payload" not in line


def test_a_binary_body_is_left_out(settings):
    from ingest.middleware import payload_fields

    settings.INGEST_LOG_PAYLOAD_BYTES = 4096
    assert payload_fields(b"\x0a\x8f\xff\x00\x12protobuf") == {"payload_omitted": "binary body"}
    cut = "é".encode() * 60  # a character split by the limit is not mistaken for binary
    settings.INGEST_LOG_PAYLOAD_BYTES = 101
    assert payload_fields(cut) == {"payload": "é" * 50, "payload_truncated": True}


def test_under_daphne_the_fast_path_logs_the_payload_too(transactional_db, fleet_token, ingest_lines, settings):
    settings.INGEST_LOG_PAYLOADS = True
    body = orjson.dumps(SEED000_FULL)
    try:
        status, _, _ = post(
            "/ingest", body, {"Authorization": f"Bearer {fleet_token}", "Content-Length": str(len(body))}
        )
    finally:
        fastpath.close_connections()
    assert status == 200
    [line] = ingest_lines
    assert line["payload"] == SEED000_FULL
