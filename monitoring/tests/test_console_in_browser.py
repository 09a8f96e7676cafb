"""A team member uses the console in a real browser (Chromium via Playwright, daphne on the test database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from monitoring import records, storage
from monitoring.models import Snapshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def log_in(page, base: str, username: str = "bob", password: str = "bob-password-1") -> None:
    page.goto(f"{base}/console/")
    page.wait_for_url("**/console/login**")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/console/")


def history(server, minutes: int = 20) -> None:
    """Some history for the charts and sparklines, plus a log line, an event and a snapshot."""
    batch = records.Batch()
    now = datetime.now(UTC)
    for m in range(minutes):
        ts = now - timedelta(minutes=minutes - m)
        batch.add_sample(server.pk, "cpu", "usage", {}, ts, 30 + (m * 7) % 40)
        batch.add_sample(server.pk, "system", "memory_usage", {}, ts, 62 + (m % 5))
        batch.add_sample(server.pk, "disk", "usage", {"mount": "/"}, ts, 71.5)
        batch.add_sample(server.pk, "network", "rx_bytes_per_sec", {}, ts, 1000 + m * 150)
    batch.logs.append(
        records.LogRecord(now, server.pk, "checkout", "ERROR", "payment gateway timeout after 30s", {}, "t")
    )
    batch.logs.append(records.LogRecord(now, server.pk, "checkout", "INFO", "order 1042 placed", {}, "t"))
    batch.events.append(
        records.EventRecord(now, server.pk, "orders-api", "api_call", {"status_code": 200, "error": "boom"},
                            status="CRITICAL", severity=0.92, reasons=["status 200 with an error body"],
                            suggestions=["check the handler's error path"], decision="ESCALATE")
    )  # fmt: skip
    batch.seen[str(server.pk)] = now
    storage.write(batch)
    Snapshot.objects.create(
        server=server, ts=now, received_at=now, score=0.82,
        payload={"docker_events": [{"type": "container", "action": "start", "container": "web-app", "image": "nginx:latest",
                                    "timestamp": now.isoformat()}], "local_alerts": ["CPU_SPIKE"]},
        processes=[{"pid": 812, "name": "nginx", "cpu_percent": 12.5, "memory_mb": 80.2},
                   {"pid": 1201, "name": "postgres", "cpu_percent": 4.1, "memory_mb": 512.0}],
    )  # fmt: skip


def test_a_sample_posted_appears_on_the_server_page_without_a_reload(
    console_server, page, screenshot, bob, web01, agent_token
):
    history(web01)
    log_in(page, console_server)
    screenshot(page, "fleet")
    page.click("text=web-01")
    page.wait_for_selector("#charts[data-loaded=true] .chart")
    page.wait_for_selector("#live-state.on")
    screenshot(page, "server")
    before = page.locator('.chart[data-chart="cpu.usage"] .now').inner_text()

    response = requests.post(
        f"{console_server}/api/v1/ingest",
        json={
            "server_id": str(web01.pk),
            "metrics": [{"metric_type": "cpu", "metric_name": "usage", "value": 97.25, "labels": {}}],
        },
        headers={"Authorization": f"Bearer {agent_token}"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    page.wait_for_function(
        "document.querySelector('.chart[data-chart=\"cpu.usage\"] .now').textContent === '97.25'", timeout=5000
    )
    assert before != "97.25"
    screenshot(page, "server-after-sample")

    page.goto(f"{console_server}/console/?environment=production")
    page.wait_for_selector("#live-state.on")
    requests.post(
        f"{console_server}/api/v1/ingest",
        json={
            "server_id": str(web01.pk),
            "metrics": [{"metric_type": "system", "metric_name": "memory_usage", "value": 88.5}],
        },
        headers={"Authorization": f"Bearer {agent_token}"},
        timeout=10,
    )
    page.wait_for_function(
        "document.querySelector('tr[data-server] .figure[data-kind=memory] .value').textContent.startsWith('88.5')",
        timeout=5000,
    )


def test_an_agents_repeated_local_alert_counts_up_one_line_live(console_server, page, bob, web01, agent_token):
    history(web01)
    log_in(page, console_server)
    page.goto(f"{console_server}/console/servers/{web01.pk}")
    page.wait_for_selector("#live-state.on")
    now = datetime.now(UTC)
    for step in range(3):
        body = {"host": "web-01", "timestamp": (now + timedelta(seconds=step)).isoformat(),
                "metrics": {"cpu_usage": 97.0}, "docker_events": [], "logs": [], "local_alerts": ["HIGH_LOAD"]}  # fmt: skip
        answer = requests.post(f"{console_server}/ingest", json=body, timeout=10,
                               headers={"Authorization": f"Bearer {agent_token}"})  # fmt: skip
        assert answer.status_code == 200, answer.text
    page.wait_for_function("document.querySelector('#server-events li').dataset.count === '3'", timeout=10_000)
    top = page.locator("#server-events li").first
    assert "HIGH_LOAD" in top.inner_text() and "×3" in top.inner_text()
    assert page.locator('#server-events li[data-key="WARNING|local_alert|agent|HIGH_LOAD"]').count() == 1
    # a page without live updates shows no "connecting…" that never ends
    page.goto(f"{console_server}/console/storage")
    page.wait_for_selector("#layers")
    assert page.locator("#live-state").is_hidden()


def test_acknowledge_an_alert_in_the_browser(console_server, page, screenshot, bob, web01):
    from alerts.models import Alert, AlertRule

    history(web01)
    rule = AlertRule.objects.create(
        name="CPU above 90%", metric_type="cpu", metric_name="usage", threshold=90, severity="critical",
        summary="cpu {value} on {server}",
    )  # fmt: skip
    alert = Alert.objects.create(
        rule=rule, server=web01, fingerprint=rule.fingerprint(web01.pk, {}), value=97.2, severity="critical",
        summary="cpu 97.2 on web-01", labels={"alertname": rule.name, "server": "web-01"},
        started_at=datetime.now(UTC) - timedelta(minutes=6),
    )  # fmt: skip
    alert.fire(97.2)
    log_in(page, console_server)
    page.goto(f"{console_server}/console/alerts")
    row = page.locator(f"#alert-{alert.pk}")
    row.get_by_role("button", name="Acknowledge").click()
    page.wait_for_selector(f"#alert-{alert.pk} .ack")
    assert "bob" in page.locator(f"#alert-{alert.pk} .ack").inner_text()
    alert.refresh_from_db()
    assert alert.acknowledged_by == bob
    screenshot(page, "alerts")
    page.goto(f"{console_server}/console/alerts/{alert.pk}")
    page.wait_for_selector("#charts[data-loaded=true] .chart")
    screenshot(page, "alert-detail")


def test_every_page_renders_in_the_browser(console_server, page, screenshot, bob, web01):
    history(web01)
    log_in(page, console_server)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    for name, path in (("logs", "/console/logs"), ("services", "/console/services"), ("events", "/console/events")):
        page.goto(console_server + path)
        page.wait_for_selector("#live-state.on")
        page.wait_for_load_state("networkidle")  # the page's own requests answered and rendered (or thrown)
        screenshot(page, name)
    page.click("text=Log out")
    page.wait_for_url("**/console/login")
    assert not errors, errors
