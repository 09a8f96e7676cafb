"""A service streams its logs (seed 004): batches, single logs, registration, bad input."""

import orjson
import pytest

from ingest.examples import SEED004_BATCH
from monitoring.models import LogEntry
from servers.models import Server

SEED_EXAMPLE = SEED004_BATCH  # the seed README's own example, as the OpenAPI schema shows it


def post(client, path, body, token):
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post(path, raw, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.mark.django_db
def test_fleet_streams_the_seed_example_and_the_service_is_registered(client, fleet_token):
    response = post(client, "/api/logs/stream/my-service", SEED_EXAMPLE, fleet_token)
    assert response.status_code == 202, response.content
    assert response.json()["logs_stored"] == 1
    service = Server.objects.get(hostname="my-service")
    assert service.kind == "service"
    entry = LogEntry.objects.get(service="my-service")
    assert entry.level == "ERROR"
    assert entry.message == "Database connection failed"
    assert entry.metadata == {"error_code": "DB_001"}
    assert entry.server_id == service.id
    assert entry.ts.isoformat() == "2024-01-15T10:30:00+00:00"


@pytest.mark.django_db
def test_agent_streams_logs_for_its_own_server(client, agent_token, web01):
    response = post(
        client, "/api/logs/stream/nginx", {"logs": [{"level": "warn", "message": "slow upstream"}]}, agent_token
    )
    assert response.status_code == 202
    entry = LogEntry.objects.get(service="nginx")
    assert entry.server_id == web01.id
    assert entry.level == "WARNING"
    assert not Server.objects.filter(hostname="nginx").exists()


@pytest.mark.django_db
def test_a_retried_batch_is_stored_once(client, fleet_token):
    post(client, "/api/logs/stream/my-service", SEED_EXAMPLE, fleet_token)
    again = post(client, "/api/logs/stream/my-service", SEED_EXAMPLE, fleet_token)
    assert again.json()["status"] == "duplicate"
    assert LogEntry.objects.filter(service="my-service").count() == 1


@pytest.mark.django_db
def test_service_streams_a_single_log(client, fleet_token):
    log = {"level": "INFO", "message": "user 42 logged in", "metadata": {"user": 42}}
    response = post(client, "/api/logs/stream/auth/single", log, fleet_token)
    assert response.status_code == 202
    assert LogEntry.objects.get(service="auth").message == "user 42 logged in"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"logs": [{"level": "INFO", "message": "ok"}, {"level": "LOUD", "message": "x"}]}, "logs[1].level"),
        ({"logs": [{"level": "INFO"}]}, "logs[0].message"),
        ({"logs": [{"message": "x", "timestamp": "yesterday"}]}, "logs[0].timestamp"),
        ({"logs": [{"message": "x", "timestamp": "2999-01-01T00:00:00Z"}]}, "logs[0].timestamp"),
        ({"logs": [{"message": "x", "metadata": [1]}]}, "logs[0].metadata"),
        ({"logs": ["just text"]}, "logs[0]"),
        ({"logs": "nope"}, "logs"),
        ({"service_name": "other", "logs": []}, "service_name"),
    ],
)
def test_a_bad_batch_is_refused_with_the_field_and_stores_nothing(client, fleet_token, body, field):
    response = post(client, "/api/logs/stream/my-service", body, fleet_token)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    assert LogEntry.objects.count() == 0


@pytest.mark.django_db
def test_a_body_that_is_not_json_is_refused(client, fleet_token):
    response = post(client, "/api/logs/stream/my-service", b"{not json", fleet_token)
    assert response.status_code == 400


@pytest.mark.django_db
def test_logs_without_a_token_are_refused(client):
    response = client.post("/api/logs/stream/my-service", orjson.dumps(SEED_EXAMPLE), content_type="application/json")
    assert response.status_code == 401
    assert LogEntry.objects.count() == 0


@pytest.mark.django_db
def test_a_person_token_cannot_stream_logs(client, bob_token):
    response = post(client, "/api/logs/stream/my-service", SEED_EXAMPLE, bob_token)
    assert response.status_code == 403


@pytest.mark.django_db
def test_fleet_registers_a_service(client, fleet_token):
    body = {"service_name": "billing", "environment": "production", "labels": {"team": "payments"}}
    response = post(client, "/api/logs/services/register", body, fleet_token)
    assert response.status_code == 201
    assert response.json()["registered"] is True
    service = Server.objects.get(hostname="billing")
    assert (service.kind, service.environment, service.labels) == ("service", "production", {"team": "payments"})
    assert post(client, "/api/logs/services/register", body, fleet_token).status_code == 200


@pytest.mark.django_db
def test_an_agent_token_cannot_register_a_service(client, agent_token):
    response = post(client, "/api/logs/services/register", {"service_name": "billing"}, agent_token)
    assert response.status_code == 403


@pytest.mark.django_db
def test_registering_without_a_name_is_refused(client, fleet_token):
    response = post(client, "/api/logs/services/register", {"environment": "x"}, fleet_token)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "service_name"


@pytest.mark.django_db
def test_buffered_continuous_stream_stores_good_lines_and_reports_bad_ones(client, fleet_token):
    body = b'{"level":"INFO","message":"a"}\nnot json\n{"level":"ERROR","message":"b"}\n{"message":"c"}'
    response = client.post(
        "/api/logs/stream/queue/continuous",
        body,
        content_type="application/x-ndjson",
        HTTP_AUTHORIZATION=f"Bearer {fleet_token}",
    )
    assert response.status_code == 200
    summary = response.json()
    assert (summary["lines_received"], summary["logs_stored"], summary["lines_rejected"]) == (4, 3, 1)
    assert summary["errors"][0]["field"] == "line 2"
    assert LogEntry.objects.filter(service="queue").count() == 3
