"""A seed 000 Go agent posts its whole snapshot to POST /ingest."""

from datetime import UTC, datetime

import pytest

from ingest.tests.payloads import SEED000_FULL, SEED000_MINIMAL
from monitoring.models import Event, LogEntry, Sample, Series, Snapshot
from servers.models import Server

pytestmark = pytest.mark.django_db

AT = datetime(2024, 1, 20, 12, 34, 56, tzinfo=UTC)


def _values(server, metric_type):
    return {
        s.series.name: s.value for s in Sample.objects.filter(series__server=server, series__metric_type=metric_type)
    }


def test_fleet_agent_registers_its_host_and_stores_every_field(fleet):
    response = fleet.post("/ingest", SEED000_FULL, content_type="application/json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "success" and body["timestamp"]
    server = Server.objects.get(hostname="server1")
    assert (server.environment, server.owner_team, server.external_id) == ("production", "devops", "srv-001")
    assert server.last_seen == AT
    assert _values(server, "system") == {
        "cpu_usage": 42.5,
        "memory_usage": 70.1,
        "disk_usage": 55.3,
        "network_rx_bytes_per_sec": 12345.0,
        "network_tx_bytes_per_sec": 6789.0,
        "tcp_connections": 12.0,
    }
    assert _values(server, "agent") == {"score": 0.7}
    docker = Event.objects.get(server=server, source="docker")
    assert docker.event_type == "container"
    assert docker.data["action"] == "start" and docker.data["image"] == "nginx:latest"
    alert = Event.objects.get(server=server, source="agent")
    assert (alert.event_type, alert.data, alert.status) == ("local_alert", {"alert": "CPU_SPIKE"}, "WARNING")
    log = LogEntry.objects.get(server=server)
    assert (log.service, log.level, log.message, log.ts) == ("web-app", "INFO", "Server started successfully", AT)
    snapshot = Snapshot.objects.get(server=server)
    assert snapshot.payload == SEED000_FULL
    assert snapshot.score == 0.7


def test_minimal_payload_is_stored(fleet):
    response = fleet.post("/ingest", SEED000_MINIMAL, content_type="application/json")

    assert response.status_code == 200, response.content
    server = Server.objects.get(hostname="test-server")
    assert _values(server, "system")["cpu_usage"] == 25.0
    assert not Event.objects.filter(server=server).exists()


def test_agent_token_writes_for_its_own_server_only(agent, web01):
    response = agent.post("/ingest", SEED000_MINIMAL, content_type="application/json")

    assert response.status_code == 403, response.content
    assert "test-server" in response.json()["detail"]
    assert not Server.objects.filter(hostname="test-server").exists()


def test_unknown_fields_are_kept_in_the_latest_snapshot(fleet):
    body = {
        **SEED000_MINIMAL,
        "kernel": "6.8.0",
        "metrics": {**SEED000_MINIMAL["metrics"], "load_1m": 0.42, "uptime_human": "3 days"},
    }

    response = fleet.post("/ingest", body, content_type="application/json")

    assert response.status_code == 200, response.content
    server = Server.objects.get(hostname="test-server")
    assert _values(server, "system")["load_1m"] == 0.42  # an extra number is a sample too
    payload = Snapshot.objects.get(server=server).payload
    assert payload["kernel"] == "6.8.0"
    assert payload["metrics"]["uptime_human"] == "3 days"


def test_the_snapshot_is_the_latest_one(fleet):
    fleet.post("/ingest", SEED000_MINIMAL, content_type="application/json")
    later = {**SEED000_MINIMAL, "timestamp": "2024-01-20T12:35:56Z", "score": 0.9}
    fleet.post("/ingest", later, content_type="application/json")

    snapshot = Snapshot.objects.get(server__hostname="test-server")
    assert snapshot.score == 0.9
    assert snapshot.payload["timestamp"] == "2024-01-20T12:35:56Z"
    assert Series.objects.filter(server__hostname="test-server").count() == 7
    assert Sample.objects.filter(series__server__hostname="test-server").count() == 14


def test_the_live_view_can_show_a_snapshot(agent, web01):
    # every record of a seed 000 body must encode as a live frame (plain str levels and statuses)
    import orjson

    from ingest import seed000
    from monitoring import storage
    from monitoring.live.frames import frames_for_write
    from servers.auth import Agent

    batch = seed000.adapt(None, Agent(kind="agent", token_id=1, server_id=web01.id), orjson.dumps(SEED000_FULL))
    frames = frames_for_write(batch, storage.write(batch))

    kinds = {message["kind"] for _, message in frames}
    assert {"metrics", "log_processed", "event_processed", "health_update"} <= kinds
