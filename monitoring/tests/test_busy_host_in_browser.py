"""A team member reads a busy host in Chromium: a fleet of thirty, a host with sixty churning processes.

The busy host reports as the bundled agent does (seed 000 snapshots and seed 002
tables posted to the console over HTTP); the rest of the fleet has history.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
import requests

from monitoring.tests.test_console_in_browser import log_in
from servers.models import AgentToken, Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SERVICES = ["nginx", "postgres", "python3", "node", "java", "redis-server", "dockerd", "sshd"]


def report_like_the_agent(base: str, token: str, hostname: str, minutes: int = 20) -> None:
    rng = random.Random(16)
    now = datetime.now(UTC)
    pid = 1000
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    for step in range(minutes * 2):
        at = now - timedelta(seconds=30 * (minutes * 2 - step))
        metrics = {
            "cpu_usage": 20 + 30 * rng.random(), "memory_usage": 55 + 5 * rng.random(), "disk_usage": 71.3,
            "swap_usage": 0.0, "network_rx_bytes_per_sec": 1e5 * rng.random(), "network_tx_bytes_per_sec": 3e4 * rng.random(),
            "tcp_connections": rng.randint(40, 90), "load_1m": 1 + rng.random(), "load_5m": 1.2, "load_15m": 1.1,
            "uptime_seconds": 86400 * 3 + step * 30, "process_count": 180,
        }  # fmt: skip
        snapshot = {"host": hostname, "timestamp": at.isoformat(), "metrics": metrics, "docker_events": [],
                    "logs": [], "local_alerts": ["HIGH_LOAD"] if step % 7 == 0 else [], "score": 0.7,
                    "agent_version": "1.0.0", "os": "Linux 6.8"}  # fmt: skip
        assert session.post(f"{base}/ingest", json=snapshot, timeout=10).status_code == 200
        table = []
        for i in range(60):
            pid += rng.randint(1, 9)  # every table has new pids
            name = SERVICES[i % len(SERVICES)] if i < 40 else f"job-{rng.randint(1, 30)}"
            table.append({"pid": pid, "name": name, "cpu_percent": round(rng.random() * 12, 2),
                          "memory_mb": round(rng.random() * 400, 1)})  # fmt: skip
        body = {"timestamp": at.timestamp(), "hostname": hostname, "total_cpu_percent": metrics["cpu_usage"],
                "top_processes": table}  # fmt: skip
        assert session.post(f"{base}/ingest/metrics", json=body, timeout=10).status_code == 200


def a_fleet(write_samples, count: int = 30) -> None:
    now = datetime.now(UTC)
    for n in range(count):
        server = Server.objects.create(hostname=f"node-{n:02d}", environment="production" if n % 3 else "staging")
        rows = []
        for m in range(10):
            ts = now - timedelta(minutes=10 - m)
            rows += [("system", "cpu_usage", {}, ts, (n * 7 + m * 3) % 100), ("system", "memory_usage", {}, ts, 40 + n),
                     ("system", "disk_usage", {}, ts, 30 + n * 2)]  # fmt: skip
        write_samples(server, rows)
        Server.objects.filter(pk=server.pk).update(last_seen=now - timedelta(seconds=n * 20))


def test_a_busy_host_reads_system_first_with_ten_lines_a_chart_and_its_snapshot(
    console_server, page, screenshot, bob, write_samples
):
    a_fleet(write_samples)
    busy = Server.objects.create(hostname="busy-01", environment="production")
    token = AgentToken.issue("agent", server=busy)[1]
    report_like_the_agent(console_server, token, "busy-01")
    now = datetime.now(UTC)  # and an OpenTelemetry SDK's figures, more than a page shows at first
    write_samples(busy, [("otlp", f"http.server.duration_{i}", {"route": "/api"}, now - timedelta(minutes=m), 5.0 + i)
                         for i in range(9) for m in range(5)])  # fmt: skip

    log_in(page, console_server)
    screenshot(page, "fleet-thirty-hosts")
    page.goto(f"{console_server}/console/servers/{busy.pk}/")  # typed with a slash
    page.wait_for_selector("#charts[data-loaded=true] .chart")
    assert page.url.endswith(f"/console/servers/{busy.pk}")
    screenshot(page, "server-busy-host")

    groups = page.locator("#charts .chart-group").all_inner_texts()
    assert groups[0].lower() == "system"
    first = page.locator("#charts .chart").first.get_attribute("data-chart")
    assert first == "system.cpu_usage"
    keys = page.eval_on_selector_all("#charts .chart", "els => els.map(e => e.dataset.chart)")
    assert keys.index("system.load_1m") < keys.index("process.cpu_percent")
    lines = page.eval_on_selector_all("#charts .chart", "els => els.map(e => +e.dataset.lines)")
    assert max(lines) == 11  # ten and "other"
    assert "other (" in page.locator('.chart[data-chart="process.cpu_percent"] .u-legend').inner_text()
    # every legend stays inside its card
    outside = page.eval_on_selector_all(
        "#charts .chart",
        """els => els.filter(e => { const l = e.querySelector('.u-legend'); if (!l) return false;
             const c = e.getBoundingClientRect(), r = l.getBoundingClientRect();
             return r.left < c.left - 1 || r.right > c.right + 1 || r.bottom > c.bottom + 1; }).length""",
    )
    assert outside == 0

    assert page.locator("#process-count").inner_text() == "60"
    assert "cpu_usage" in page.locator("#snapshot-facts").inner_text()
    assert "Linux 6.8" in page.locator("#snapshot-facts").inner_text()

    picker = page.locator(".chart-picker select")
    option = picker.locator("option").nth(1).get_attribute("value")
    picker.select_option(option)
    page.wait_for_selector(f'.chart[data-chart="{option}"]')
    screenshot(page, "server-busy-host-picked")
