"""People list and filter the inventory; agents may not read it."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from servers.models import AgentToken, Server

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet_of_servers(db):
    now = timezone.now()
    return {
        "up": Server.objects.create(
            hostname="web-01", environment="production", owner_team="devops", labels={"role": "web"}, last_seen=now
        ),
        "stale": Server.objects.create(
            hostname="web-02",
            environment="production",
            owner_team="web",
            labels={"role": "web", "zone": "a"},
            last_seen=now - timedelta(seconds=120),
        ),
        "down": Server.objects.create(
            hostname="db-01",
            environment="staging",
            owner_team="devops",
            labels={"role": "db"},
            last_seen=now - timedelta(hours=1),
        ),
        "never": Server.objects.create(hostname="new-01", environment="staging"),
    }


def _hostnames(response):
    assert response.status_code == 200, response.content
    return [s["hostname"] for s in response.json()["results"]]


def test_list_all_servers(api, fleet_of_servers):
    response = api.get("/api/v1/servers")

    assert _hostnames(response) == ["db-01", "new-01", "web-01", "web-02"]
    assert response.json()["count"] == 4


@pytest.mark.parametrize(
    "query,expected",
    [
        ("environment=production", ["web-01", "web-02"]),
        ("team=devops", ["db-01", "web-01"]),
        ("label=role:web", ["web-01", "web-02"]),
        ("label=role:web&label=zone:a", ["web-02"]),
        ("label=zone", ["web-02"]),
        ("status=up", ["web-01"]),
        ("status=stale", ["web-02"]),
        ("status=down", ["db-01", "new-01"]),
        ("q=web", ["web-01", "web-02"]),
    ],
)
def test_filter_servers(api, fleet_of_servers, query, expected):
    assert _hostnames(api.get(f"/api/v1/servers?{query}")) == expected


def test_status_is_shown_per_server(api, fleet_of_servers):
    statuses = {s["hostname"]: s["status"] for s in api.get("/api/v1/servers").json()["results"]}

    assert statuses == {"web-01": "up", "web-02": "stale", "db-01": "down", "new-01": "down"}


def test_an_unknown_status_is_400(api, fleet_of_servers):
    assert api.get("/api/v1/servers?status=sideways").status_code == 400


def test_pages(api, fleet_of_servers):
    first = api.get("/api/v1/servers?limit=3").json()
    second = api.get(first["next"]).json()

    assert len(first["results"]) == 3
    assert [s["hostname"] for s in second["results"]] == ["web-02"]


def test_the_list_takes_a_fixed_number_of_queries(api, fleet_of_servers, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):  # token, touch, count, page
        api.get("/api/v1/servers")


def test_agent_tokens_cannot_read(fleet_token, fleet_of_servers):
    agent_token = AgentToken.issue("agent", server=fleet_of_servers["up"])[1]
    for token in (agent_token, fleet_token):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert client.get("/api/v1/servers").status_code == 403


def test_nobody_without_a_token_reads(client, fleet_of_servers):
    assert client.get("/api/v1/servers").status_code in (401, 403)


def test_a_signed_in_person_reads_with_a_session(client, bob, fleet_of_servers):
    client.force_login(bob)

    assert client.get("/api/v1/servers").status_code == 200
