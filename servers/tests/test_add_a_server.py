"""An admin adds a host: the console issues its token and shows the one line that installs the agent."""

import shlex

import pytest

from servers.models import AgentToken, Server

pytestmark = pytest.mark.django_db


def _line_token(line: str) -> str:
    words = shlex.split(line.split("|", 1)[1])
    return words[words.index("--token") + 1]


def test_the_fleet_page_offers_to_add_a_server(client, alice):
    client.force_login(alice)

    page = client.get("/console/").content.decode()

    assert 'href="/console/servers/add"' in page


def test_adding_a_server_issues_its_token_and_shows_the_install_line(client, alice):
    client.force_login(alice)

    page = client.post("/console/servers/add", {"hostname": "web-07"}, follow=True).content.decode()

    server = Server.objects.get(hostname="web-07")
    line = next(line for line in page.splitlines() if "install.sh" in line and "--token" in line)
    assert "curl -fsSL http://testserver/agent/install.sh | sudo sh -s -- --token mca_" in line
    assert "--hostname web-07" in line
    assert AgentToken.find(_line_token(line)).server == server


def test_an_issued_token_is_shown_once_after_a_redirect_and_never_in_a_cookie(client, alice):
    client.force_login(alice)

    posted = client.post("/console/servers/add", {"hostname": "web-09"})
    shown = client.get("/console/servers/add")
    again = client.get("/console/servers/add").content.decode()

    assert posted.status_code == 302 and posted.headers["Location"] == "/console/servers/add"
    assert b"mca_" not in posted.content
    assert all("mca_" not in morsel.value for morsel in posted.cookies.values())  # no messages cookie carries it
    line = next(line for line in shown.content.decode().splitlines() if "--token" in line)
    assert AgentToken.find(_line_token(line)).server.hostname == "web-09"
    assert "no-store" in shown.headers["Cache-Control"]
    assert "--token" not in again and "mca_" not in again  # a reload shows (and issues) nothing
    assert AgentToken.objects.count() == 1


def test_the_admin_action_shows_the_install_line_too(client, alice, web01):
    client.force_login(alice)

    response = client.post(
        "/admin/servers/server/", {"action": "issue_agent_token", "_selected_action": [str(web01.pk)]}, follow=True
    )

    (shown,) = [token["install"] for token in response.context["tokens"]]  # on the show-once page
    assert "--hostname web-01" in shown
    assert AgentToken.find(_line_token(shown)).server == web01


def test_a_hostname_with_spaces_is_refused_and_nothing_is_issued(client, alice):
    client.force_login(alice)

    page = client.post("/console/servers/add", {"hostname": "web 07"}).content.decode()

    assert "one word" in page
    assert not AgentToken.objects.exists()


def test_a_member_without_the_permission_cannot_issue_tokens(client, bob):
    client.force_login(bob)

    page = client.post("/console/servers/add", {"hostname": "web-08"}, follow=True).content.decode()

    assert "ask an admin" in page
    assert not Server.objects.filter(hostname="web-08").exists()


def test_receivers_get_ready_to_paste_configuration_with_a_fleet_token(client, alice, settings):
    settings.CONSOLE_URL = "https://console.example.com"
    client.force_login(alice)

    page = client.post("/console/servers/add", {"kind": "fleet"}, follow=True).content.decode()

    assert "url: https://console.example.com/api/v1/prom/write" in page
    assert "endpoint: https://console.example.com" in page
    assert "URL &quot;https://console.example.com/api/v1/collectd&quot;" in page
    token = page.split("credentials: ", 1)[1].split()[0]
    assert AgentToken.find(token).kind == "fleet"


def test_the_agent_and_its_installer_are_served_without_a_token(client):
    agent = client.get("/agent/monitoring_agent.py")
    installer = client.get("/agent/install.sh")

    assert agent.status_code == 200 and b"def main(" in b"".join(agent.streaming_content)
    assert installer.status_code == 200
    assert 'CONSOLE="http://testserver"' in installer.content.decode()
