"""Bob watches web-01's timeline in Chromium while CI deploys and the host logs an error."""

from __future__ import annotations

import pytest
import requests

from monitoring.tests.test_console_in_browser import history, log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_timeline_updates_live_and_the_deploy_shows_on_the_charts(
    console_server, page, screenshot, bob, web01, agent_token, fleet_token
):
    history(web01)
    log_in(page, console_server)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{console_server}/console/servers/{web01.pk}/timeline")
    page.wait_for_selector("#live-state.on")
    assert page.locator("#timeline li[data-kind=log]").count() == 1

    # the agent sends an error line: the timeline shows it without a reload
    response = requests.post(
        f"{console_server}/ingest",
        json={"host": "web-01", "metrics": {"cpu_usage": 20.0},
              "logs": [{"container": "checkout", "level": "ERROR", "message": "card declined storm"}]},
        headers={"Authorization": f"Bearer {agent_token}"},
        timeout=10,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    page.wait_for_selector("#timeline li[data-kind=log] >> text=card declined storm", timeout=10_000)

    # only deploys, please
    response = requests.post(
        f"{console_server}/api/v1/annotations",
        json={"title": "deploy checkout v1.4.3", "servers": ["web-01"]},
        headers={"Authorization": f"Bearer {fleet_token}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    for kind in ("alert", "event", "docker", "log", "anomaly"):
        page.uncheck(f"input[name=kind][value={kind}]")
    page.wait_for_function(
        "[...document.querySelectorAll('#timeline li')].map(li => li.dataset.kind).join() === 'annotation'"
    )
    assert "deploy checkout v1.4.3" in page.locator("#timeline").inner_text() and "kind=annotation" in page.url
    screenshot(page, "timeline")

    page.click("text=web-01")
    page.wait_for_selector("#charts[data-loaded=true][data-annotations='1'] .chart")
    screenshot(page, "server-with-deploy")
    assert not errors, errors
