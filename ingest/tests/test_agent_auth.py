"""Who may write: an agent for its own server, a fleet agent for any, never a person or a stranger."""

import pytest
from django.test import override_settings

from ingest.tests.payloads import SEED000_MINIMAL, SEED002_BODY, seed001_body
from monitoring.models import Sample
from servers.models import AgentToken, Server

pytestmark = pytest.mark.django_db


def test_no_token_is_401(client, web01):
    response = client.post("/api/v1/ingest", seed001_body(web01.id), content_type="application/json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Sample.objects.exists()


def test_a_wrong_token_is_401(client, web01):
    response = client.post(
        "/api/v1/ingest", seed001_body(web01.id), content_type="application/json", HTTP_AUTHORIZATION="Bearer mca_nope"
    )

    assert response.status_code == 401


def test_a_revoked_token_is_401(client, web01):
    token, raw = AgentToken.issue("agent", server=web01)
    token.revoke()

    response = client.post(
        "/api/v1/ingest", seed001_body(web01.id), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}"
    )

    assert response.status_code == 401


@override_settings(INGEST_ALLOW_ANONYMOUS=True)
def test_anonymous_ingest_when_allowed(client):
    response = client.post("/ingest", SEED000_MINIMAL, content_type="application/json")

    assert response.status_code == 200
    assert Server.objects.filter(hostname="test-server").exists()


def test_an_agent_token_cannot_write_for_another_server(agent, db):
    other = Server.objects.create(hostname="db-01")

    response = agent.post("/api/v1/ingest", seed001_body(other.id), content_type="application/json")

    assert response.status_code == 403
    assert not Sample.objects.exists()


def test_an_agent_token_does_not_register_servers(agent, web01):
    agent.post("/ingest", SEED000_MINIMAL, content_type="application/json")

    assert list(Server.objects.values_list("hostname", flat=True)) == ["web-01"]


def test_a_fleet_token_registers_by_hostname_once(client, fleet_token):
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {fleet_token}"
    for ts in ("2024-01-20T12:34:56Z", "2024-01-20T12:35:56Z"):
        response = client.post("/ingest", {**SEED000_MINIMAL, "timestamp": ts}, content_type="application/json")
        assert response.status_code == 200

    assert Server.objects.filter(hostname="test-server").count() == 1


def test_a_fleet_token_writes_by_hostname_in_seed001(client, fleet_token):
    body = seed001_body("unused")
    del body["server_id"]
    body["hostname"] = "batch-host"

    response = client.post(
        "/api/v1/ingest", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {fleet_token}"
    )

    assert response.status_code == 202, response.content
    assert Sample.objects.filter(series__server__hostname="batch-host").count() == 2


def test_a_persons_token_cannot_write(client, bob_token, web01):
    response = client.post(
        "/api/v1/ingest",
        seed001_body(web01.id),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {bob_token}",
    )

    assert response.status_code == 403
    assert not Sample.objects.exists()


def test_x_agent_token_header_works_like_bearer(client, agent_token, web01):
    response = client.post(
        "/api/v1/ingest", seed001_body(web01.id), content_type="application/json", HTTP_X_AGENT_TOKEN=agent_token
    )

    assert response.status_code == 202


def test_a_disabled_server_takes_no_writes(agent, web01):
    web01.active = False
    web01.save()

    response = agent.post("/ingest/metrics", SEED002_BODY, content_type="application/json")

    assert response.status_code == 403
    assert "disabled" in response.json()["detail"]
    assert not Sample.objects.exists()


def test_a_fleet_token_cannot_write_for_a_disabled_server(client, fleet_token, web01):
    web01.active = False
    web01.save()

    response = client.post(
        "/api/v1/ingest",
        seed001_body(web01.id),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {fleet_token}",
    )

    assert response.status_code == 403


def test_ingest_takes_only_post(agent):
    response = agent.get("/api/v1/ingest")

    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_token_use_is_recorded(agent, web01):
    agent.post("/ingest/metrics", SEED002_BODY, content_type="application/json")

    assert web01.tokens.get().last_used_at is not None
