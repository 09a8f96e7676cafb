"""Registering a server (seed 001's POST /api/v1/servers): people, fleet agents, an agent for itself."""

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from servers.models import AgentToken, Server

pytestmark = pytest.mark.django_db

# seed 001 README, "Register Server"
SEED001_SERVER = {
    "hostname": "server01",
    "ip_address": "192.168.1.10",
    "os": "Ubuntu 22.04",
    "labels": {"env": "prod", "role": "web"},
    "agent_version": "1.0.0",
}


def _client(token=None):
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_person_registers_a_server(api):
    response = api.post("/api/v1/servers", SEED001_SERVER, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    server = Server.objects.get(pk=body["id"])
    assert (server.hostname, server.ip_address, server.os, server.agent_version) == (
        "server01",
        "192.168.1.10",
        "Ubuntu 22.04",
        "1.0.0",
    )
    assert server.labels == {"env": "prod", "role": "web"}
    assert server.environment == "prod"  # taken from labels.env
    assert body["status"] == "down"  # never heard from yet


def test_registering_an_existing_hostname_updates_it_and_keeps_the_id(api):
    first = api.post("/api/v1/servers", SEED001_SERVER, format="json").json()

    response = api.post(
        "/api/v1/servers", {**SEED001_SERVER, "os": "Ubuntu 24.04", "agent_version": "1.1.0"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["id"] == first["id"]
    server = Server.objects.get()
    assert (server.os, server.agent_version) == ("Ubuntu 24.04", "1.1.0")


def test_a_fleet_token_registers(fleet_token):
    response = _client(fleet_token).post("/api/v1/servers", SEED001_SERVER, format="json")

    assert response.status_code == 201


def test_an_agent_token_registers_its_own_host_only(agent_token, web01):
    client = _client(agent_token)

    mine = client.post("/api/v1/servers", {"hostname": "web-01", "agent_version": "2.0"}, format="json")
    other = client.post("/api/v1/servers", SEED001_SERVER, format="json")

    assert mine.status_code == 200
    assert mine.json()["id"] == str(web01.id)
    assert other.status_code == 403
    assert not Server.objects.filter(hostname="server01").exists()


def test_nobody_without_a_token_registers(db):
    response = _client().post("/api/v1/servers", SEED001_SERVER, format="json")

    assert response.status_code == 401


@override_settings(INGEST_ALLOW_ANONYMOUS=True)
def test_anyone_registers_when_anonymous_ingest_is_allowed(db):
    response = _client().post("/api/v1/servers", SEED001_SERVER, format="json")

    assert response.status_code == 201


def test_a_revoked_token_does_not_register(db):
    token, raw = AgentToken.issue("fleet")
    token.revoke()

    assert _client(raw).post("/api/v1/servers", SEED001_SERVER, format="json").status_code == 401


@pytest.mark.parametrize(
    "change,field",
    [
        ({"hostname": ""}, "hostname"),
        ({"ip_address": "not-an-ip"}, "ip_address"),
        ({"labels": ["env"]}, "labels"),
        ({"kind": "toaster"}, "kind"),
    ],
)
def test_bad_registrations_are_400_naming_the_field(api, change, field):
    response = api.post("/api/v1/servers", {**SEED001_SERVER, **change}, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Server.objects.exists()


def test_the_seed_test_script_gets_an_id_back(api):
    # seed 001's test script: SERVER_ID=$(curl ... | jq -r '.id')
    body = {"hostname": "test-server", "ip_address": "10.0.0.1", "os": "Linux", "labels": {"env": "test"}}

    response = api.post("/api/v1/servers", body, format="json")

    assert Server.objects.filter(pk=response.json()["id"], environment="test").exists()
