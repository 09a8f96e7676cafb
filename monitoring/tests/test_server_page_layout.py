"""A team member opens a busy host's page: system charts first, ten lines a chart, the rest on request."""

from datetime import UTC, datetime, timedelta

import pytest

from monitoring.models import Snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy_host(web01, write_samples):
    """web-01 with system figures from two agents' vocabularies, 60 processes and 8 Prometheus metrics."""
    now = datetime.now(UTC)
    rows = []
    for m in range(3):
        ts = now - timedelta(minutes=3 - m)
        rows += [("prometheus", f"node_metric_{i}", {"instance": "web-01"}, ts, float(i)) for i in range(8)]
        rows += [("process", "cpu_percent", {"name": f"proc-{i:02d}"}, ts, float(i)) for i in range(60)]
        rows += [
            ("system", "load_1m", {}, ts, 0.5),
            ("system", "network_rx_bytes_per_sec", {}, ts, 1000.0),
            ("system", "disk_usage", {}, ts, 40.0),
            ("system", "memory_usage", {}, ts, 60.0),
            ("system", "cpu_usage", {}, ts, 20.0),
            ("system", "uptime_seconds", {}, ts, 1000.0),
            ("cpu", "usage", {"core": "0"}, ts, 25.0),
        ]
    write_samples(web01, rows)
    return web01


def test_system_charts_come_first_then_each_metric_type(client, alice, busy_host):
    client.force_login(alice)

    charts = client.get(f"/console/servers/{busy_host.pk}/series.json").json()["charts"]

    keys = [c["key"] for c in charts]
    assert keys[:6] == [
        "system.cpu_usage",
        "cpu.usage",
        "system.memory_usage",
        "system.disk_usage",
        "system.network_rx_bytes_per_sec",
        "system.load_1m",
    ]
    assert [c["group"] for c in charts[:6]] == ["System"] * 6
    groups = [c["group"] for c in charts[6:]]
    assert groups == sorted(groups), "the rest is grouped by metric type"
    assert {"process", "prometheus", "system: more figures"} <= set(groups)


def test_a_chart_draws_ten_lines_and_folds_the_rest_into_other(client, alice, busy_host):
    client.force_login(alice)

    charts = client.get(f"/console/servers/{busy_host.pk}/series.json").json()["charts"]

    processes = next(c for c in charts if c["key"] == "process.cpu_percent")
    assert len(processes["lines"]) == 11
    assert [line["label"] for line in processes["lines"][:3]] == ["name=proc-59", "name=proc-58", "name=proc-57"]
    other = processes["lines"][-1]
    assert other["other"] and other["label"] == "other (50, summed)"
    assert other["points"][-1][1] == sum(range(50))


def test_other_charts_are_offered_in_a_picker_and_drawn_when_picked(client, alice, busy_host):
    client.force_login(alice)
    url = f"/console/servers/{busy_host.pk}/series.json"

    first = client.get(url).json()
    drawn = [c["key"] for c in first["charts"] if c["group"] == "prometheus"]
    offered = [c["key"] for c in first["catalog"]]
    picked = client.get(url, {"add": "prometheus.node_metric_7"}).json()

    assert len(drawn) == 6
    assert offered == ["prometheus.node_metric_6", "prometheus.node_metric_7"]
    assert "prometheus.node_metric_7" in [c["key"] for c in picked["charts"]]
    assert [c["key"] for c in picked["catalog"]] == ["prometheus.node_metric_6"]


def test_the_latest_snapshot_is_readable_through_the_api(api, web01):
    now = datetime.now(UTC)
    Snapshot.objects.create(
        server=web01, ts=now, received_at=now, score=0.8,
        payload={"host": "web-01", "metrics": {"cpu_usage": 12.5}, "local_alerts": []},
        processes=[{"pid": 1, "name": "init", "cpu_percent": 0.1, "memory_mb": 4.0},
                   {"pid": 812, "name": "nginx", "cpu_percent": 12.5, "memory_mb": 80.2}],
    )  # fmt: skip

    body = api.get(f"/api/v1/servers/{web01.pk}/snapshot").json()

    assert body["hostname"] == "web-01"
    assert body["payload"]["metrics"] == {"cpu_usage": 12.5}
    assert [p["name"] for p in body["processes"]] == ["nginx", "init"]
    assert body["score"] == 0.8


def test_a_server_without_a_snapshot_is_404(api, web01):
    assert api.get(f"/api/v1/servers/{web01.pk}/snapshot").status_code == 404


def test_an_agent_token_cannot_read_the_snapshot(client, agent_token, web01):
    response = client.get(f"/api/v1/servers/{web01.pk}/snapshot", HTTP_AUTHORIZATION=f"Bearer {agent_token}")

    assert response.status_code == 403


def test_an_agents_local_alert_every_report_is_one_counted_line_in_the_events(client, alice, agent, web01):
    start = datetime.now(UTC) - timedelta(minutes=5)
    body = {"host": "web-01", "metrics": {"cpu_usage": 97.0}, "docker_events": [], "logs": []}
    alerts = [["HIGH_LOAD"]] * 3 + [["CPU_SPIKE"]] + [["HIGH_LOAD"]] * 2  # oldest first
    for step, local in enumerate(alerts):
        at = (start + timedelta(seconds=10 * step)).isoformat()
        assert (
            agent.post(
                "/ingest", {**body, "timestamp": at, "local_alerts": local}, content_type="application/json"
            ).status_code
            == 200
        )
    client.force_login(alice)

    page = client.get(f"/console/servers/{web01.pk}")

    lines = [(run.event.summary, run.count) for run in page.context["events"]]
    assert lines == [("HIGH_LOAD", 2), ("CPU_SPIKE", 1), ("HIGH_LOAD", 3)]
    html = page.content.decode()
    assert html.count('data-key="WARNING|local_alert|agent|HIGH_LOAD"') == 2 and ">3</span>" in html
