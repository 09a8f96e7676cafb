"""An admin issues and revokes tokens and disables servers in the admin."""

import pytest

from servers.models import AgentToken, Server

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, alice):
    client.force_login(alice)
    return client


def _shown(response) -> list[str]:
    return [t["raw"] for t in response.context["tokens"]]


def test_issue_an_agent_token_shows_it_once(admin_client, web01):
    action = admin_client.post(
        "/admin/servers/server/", {"action": "issue_agent_token", "_selected_action": [str(web01.pk)]}
    )
    response = admin_client.get(action["Location"])

    assert response.status_code == 200
    token = AgentToken.objects.get(server=web01)
    (raw,) = _shown(response)
    assert raw.startswith(token.prefix)
    assert AgentToken.find(raw) == token
    assert "no-store" in response["Cache-Control"]
    assert raw not in admin_client.get(action["Location"]).content.decode()  # once
    assert raw not in admin_client.get(f"/admin/servers/server/{web01.pk}/change/").content.decode()


def test_an_issued_token_never_travels_in_a_cookie(admin_client, web01):
    action = admin_client.post(
        "/admin/servers/server/", {"action": "issue_agent_token", "_selected_action": [str(web01.pk)]}
    )
    raw = _shown(admin_client.get(action["Location"]))[0]

    assert all(raw not in morsel.value for morsel in action.cookies.values())
    assert all(raw not in morsel.value for morsel in admin_client.cookies.values())


def test_revoke_tokens_of_a_server(admin_client, web01, agent_token, client):
    admin_client.post(
        "/admin/servers/server/", {"action": "revoke_tokens", "_selected_action": [str(web01.pk)]}, follow=True
    )

    assert AgentToken.find(agent_token) is None


def test_revoke_a_token(admin_client, web01, agent_token):
    token = AgentToken.objects.get(server=web01)

    admin_client.post("/admin/servers/agenttoken/", {"action": "revoke", "_selected_action": [str(token.pk)]})

    token.refresh_from_db()
    assert token.revoked_at is not None


def test_disable_a_server_refuses_its_writes(admin_client, web01, agent_token):
    admin_client.post("/admin/servers/server/", {"action": "disable_servers", "_selected_action": [str(web01.pk)]})

    assert not Server.objects.get(pk=web01.pk).active
    admin_client.logout()
    response = admin_client.post(
        "/ingest/metrics",
        {"timestamp": 1707662400, "total_cpu_percent": 1},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {agent_token}",
    )
    assert response.status_code == 403


def test_issue_a_fleet_token_from_the_add_form(admin_client):
    response = admin_client.post("/admin/servers/agenttoken/add/", {"kind": "fleet", "name": "k8s"}, follow=True)

    token = AgentToken.objects.get(kind="fleet")
    (raw,) = _shown(response)
    assert AgentToken.find(raw) == token
    assert token.name == "k8s"


def test_an_agent_token_without_a_server_is_refused(admin_client):
    response = admin_client.post("/admin/servers/agenttoken/add/", {"kind": "agent"})

    assert response.status_code == 200  # the form again, with the error
    assert not AgentToken.objects.exists()


def test_the_server_list_and_its_token_list_open(admin_client, web01, agent_token, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        assert admin_client.get("/admin/servers/server/").status_code == 200
    assert admin_client.get("/admin/servers/agenttoken/").status_code == 200
    assert admin_client.get(f"/admin/servers/server/{web01.pk}/change/").status_code == 200


def test_issue_a_read_only_token_for_a_person_from_the_add_form(admin_client, bob):
    response = admin_client.post(
        "/admin/servers/agenttoken/add/", {"kind": "user", "user": bob.pk, "read_only": "on"}, follow=True
    )

    (raw,) = _shown(response)
    assert AgentToken.find(raw).read_only


def test_an_agent_token_cannot_be_read_only(admin_client, web01):
    admin_client.post("/admin/servers/agenttoken/add/", {"kind": "agent", "server": web01.pk, "read_only": "on"})

    assert not AgentToken.objects.exists()
