"""A person reads, changes and deletes one server."""

import pytest
from rest_framework.test import APIClient

from servers.models import Server

pytestmark = pytest.mark.django_db


def test_read_one_server(api, web01):
    response = api.get(f"/api/v1/servers/{web01.id}")

    assert response.status_code == 200
    assert response.json()["hostname"] == "web-01"
    assert response.json()["labels"] == {"role": "web"}


def test_an_unknown_server_is_404(api, db):
    assert api.get("/api/v1/servers/6f1c1d1e-0000-4000-8000-000000000000").status_code == 404


def test_change_labels_and_team(api, web01):
    response = api.patch(
        f"/api/v1/servers/{web01.id}", {"labels": {"role": "api"}, "owner_team": "platform"}, format="json"
    )

    assert response.status_code == 200, response.content
    web01.refresh_from_db()
    assert (web01.labels, web01.owner_team) == ({"role": "api"}, "platform")


def test_id_and_last_seen_cannot_be_changed(api, web01):
    api.patch(f"/api/v1/servers/{web01.id}", {"id": "x", "last_seen": "2020-01-01T00:00:00Z"}, format="json")

    web01.refresh_from_db()
    assert web01.last_seen is None


def test_disable_a_server_through_the_api(carol_api, web01, agent_token, client):
    assert carol_api.patch(f"/api/v1/servers/{web01.id}", {"active": False}, format="json").status_code == 200

    response = client.post(
        "/ingest/metrics",
        {"timestamp": 1707662400, "total_cpu_percent": 1},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {agent_token}",
    )
    assert response.status_code == 403


def test_a_team_member_cannot_delete(api, web01):
    assert api.delete(f"/api/v1/servers/{web01.id}").status_code == 403
    assert Server.objects.filter(pk=web01.id).exists()


def test_an_admin_deletes_a_server_and_its_tokens(alice, web01, agent_token):
    client = APIClient()
    client.force_authenticate(alice)

    assert client.delete(f"/api/v1/servers/{web01.id}").status_code == 204
    assert not Server.objects.filter(pk=web01.id).exists()


def test_an_agent_token_cannot_read_one_server(agent_token, web01):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {agent_token}")

    assert client.get(f"/api/v1/servers/{web01.id}").status_code == 403
