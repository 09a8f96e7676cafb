"""Two hosts run a service of the same name: one host's agent can neither fake nor hide the other's.

Service health (seed 004) and event baselines (seed 003) are keyed by (server, name); each
agent posts through the public HTTP API with its own token, and people read through it.
"""

import contextlib
import time

import orjson
import pytest
import requests
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from rest_framework.test import APIClient

from monitoring.models import FieldStats
from servers.models import AgentToken, Server

pytestmark = pytest.mark.django_db


@pytest.fixture
def hosts(db) -> dict[str, APIClient]:
    """Agents of web-01 and web-02, each with its own token."""
    agents = {}
    for hostname in ("web-01", "web-02"):
        client = APIClient()
        server = Server.objects.create(hostname=hostname)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {AgentToken.issue('agent', server=server)[1]}")
        agents[hostname] = client
    return agents


def stream(agent: APIClient, service: str, levels: list[str]) -> None:
    body = {"logs": [{"level": level, "message": f"{service} line {i}"} for i, level in enumerate(levels)]}
    response = agent.post(f"/api/logs/stream/{service}", orjson.dumps(body), content_type="application/json")
    assert response.status_code == 202, response.content


def test_one_hosts_errors_for_billing_leave_the_other_hosts_billing_healthy(hosts, api):
    stream(hosts["web-02"], "billing", ["INFO"] * 20)
    before = api.get("/api/health/services/billing?server=web-02").json()
    stream(hosts["web-01"], "billing", ["ERROR"] * 20)

    mine = api.get("/api/health/services/billing?server=web-02").json()
    assert (mine["status"], mine["logs_in_window"], mine["errors_in_window"]) == ("healthy", 20, 0)
    assert {k: v for k, v in mine.items() if k != "instances"} == {k: v for k, v in before.items() if k != "instances"}
    theirs = api.get("/api/health/services/billing?server=web-01").json()
    assert (theirs["status"], theirs["server"], theirs["errors_in_window"]) == ("unhealthy", "web-01", 20)

    # a read naming only the service answers its worst instance and lists every server's
    either = api.get("/api/health/services/billing").json()
    assert (either["status"], either["server"]) == ("unhealthy", "web-01")
    assert [(i["server"], i["status"]) for i in either["instances"]] == [("web-01", "unhealthy"), ("web-02", "healthy")]
    overview = api.get("/api/health/").json()
    assert sorted((s["service_name"], s["server"], s["status"]) for s in overview["services"]) == [
        ("billing", "web-01", "unhealthy"),
        ("billing", "web-02", "healthy"),
    ]
    listed = api.get("/api/logs/services").json()["services"]
    assert [(s["service_name"], s["server"]) for s in listed] == [("billing", "web-01"), ("billing", "web-02")]


def test_a_service_on_a_server_that_does_not_run_it_is_not_found(hosts, api):
    stream(hosts["web-01"], "billing", ["INFO"])
    assert api.get("/api/health/services/billing?server=web-02").status_code == 404
    assert api.get("/api/health/services/billing?server=web-01").json()["status"] == "healthy"


def test_the_services_page_shows_each_servers_billing_on_its_own_row(hosts, client, bob):
    stream(hosts["web-01"], "billing", ["ERROR"] * 5)
    stream(hosts["web-02"], "billing", ["INFO"] * 5)
    client.force_login(bob)
    page = client.get("/console/services").content.decode()
    for hostname in ("web-01", "web-02"):
        server_id = Server.objects.get(hostname=hostname).pk
        assert f'data-service="billing" data-server-id="{server_id}"' in page
        assert f"on {hostname}" in page


@pytest.mark.browser
@pytest.mark.slow
def test_the_services_page_counts_each_servers_lines_on_its_own_row_live(console_server, page, bob, web01, agent_token):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    from monitoring.tests.test_console_in_browser import log_in

    web02 = Server.objects.create(hostname="web-02")
    other_token = AgentToken.issue("agent", server=web02)[1]

    def stream_over_http(token: str, lines: int) -> None:
        answer = requests.post(f"{console_server}/api/logs/stream/billing", json={"logs": [{"message": "x"}] * lines},
                               headers={"Authorization": f"Bearer {token}"}, timeout=10)  # fmt: skip
        assert answer.status_code == 202, answer.text

    stream_over_http(agent_token, 1)
    stream_over_http(other_token, 1)
    log_in(page, console_server)
    page.goto(f"{console_server}/console/services")
    page.wait_for_selector("#live-state.on")
    mine, theirs = (f'tr[data-service="billing"][data-server-id="{s.pk}"] [data-field="total"]' for s in (web02, web01))
    assert page.locator(mine).inner_text() == page.locator(theirs).inner_text() == "1"

    # lines posted before the page's subscription took effect make no frame: post until one does
    deadline = time.monotonic() + 20
    while page.locator(mine).inner_text() == "1":
        assert time.monotonic() < deadline, "no live update of web-02's billing row"
        stream_over_http(other_token, 3)
        with contextlib.suppress(PlaywrightTimeout):
            page.wait_for_function(f"document.querySelector('{mine}').textContent !== '1'", timeout=2000)
    assert int(page.locator(mine).inner_text()) % 3 == 1  # web-02's row counts web-02's lines
    assert page.locator(theirs).inner_text() == "1"  # and web-01's row none of them


def post_event(agent: APIClient, value: float) -> dict:
    body = {"source": "billing", "event_type": "api_response", "data": {"response_time": value}}
    response = agent.post("/api/v1/monitoring/events", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_one_hosts_events_do_not_move_the_other_hosts_anomaly_baseline(hosts):
    for value in [100, 102, 98, 101, 99, 100, 103, 97, 100, 100, 101, 99]:
        assert post_event(hosts["web-02"], value)["status"] == "NORMAL"
    # web-01's billing runs at ten times the latency, and says so often
    for value in [1000, 1010, 990, 1005, 995, 1000, 1002, 998, 1000, 1000, 1001, 999] * 3:
        post_event(hosts["web-01"], value)

    # web-02's usual latency is still usual for web-02, and its outlier is still an outlier
    assert post_event(hosts["web-02"], 101)["status"] == "NORMAL"
    outlier = post_event(hosts["web-02"], 1000)
    assert outlier["status"] == "CRITICAL"
    assert outlier["reasons"][0].startswith("Anomaly: response_time 1000")
    assert post_event(hosts["web-01"], 1000)["status"] == "NORMAL"

    baselines = {
        s.server.hostname: s.count for s in FieldStats.objects.filter(source="billing").select_related("server")
    }
    assert baselines == {"web-01": 37, "web-02": 14}


@pytest.mark.django_db(transaction=True)
def test_the_upgrade_gives_each_server_that_posted_a_source_a_copy_of_its_shared_baseline(hosts):
    post_event(hosts["web-01"], 100)  # web-01 posts "billing" events; web-02 posts none
    executor = MigrationExecutor(connection)
    executor.migrate([("monitoring", "0008_annotation")])  # the baselines as they were: shared by source
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO monitoring_fieldstats (source, field, count, mean, m2, updated_at) "
                "VALUES ('billing', 'response_time', 12, 100, 50, now())"
            )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    copies = {
        (s.server.hostname if s.server else None, s.count, s.mean)
        for s in FieldStats.objects.filter(source="billing").select_related("server")
    }
    assert copies == {(None, 12, 100), ("web-01", 12, 100)}
