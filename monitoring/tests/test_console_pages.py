"""Team members read the console: every page renders for a logged-in person, and nobody else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from alerts.choices import AlertState
from alerts.models import Alert, AlertRule, Silence
from monitoring import records, storage
from monitoring.models import Snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(web01):
    """A few minutes of web-01: cpu, memory, disk, a log line, an event and a snapshot."""
    batch = records.Batch()
    now = datetime.now(UTC)
    for minute in range(10):
        ts = now - timedelta(minutes=minute)
        batch.add_sample(web01.pk, "cpu", "usage", {}, ts, 40.0 + minute)
        batch.add_sample(web01.pk, "system", "memory_usage", {}, ts, 60.0)
        batch.add_sample(web01.pk, "disk", "usage", {"mount": "/"}, ts, 55.0)
    batch.logs.append(records.LogRecord(now, web01.pk, "checkout", "ERROR", "payment gateway timeout", {}, "test"))
    batch.events.append(
        records.EventRecord(now, web01.pk, "orders", "api_call", {"status": 500}, status="CRITICAL", severity=0.95,
                            reasons=["status 500 with a success body"], suggestions=["check the handler"],
                            decision="ESCALATE")
    )  # fmt: skip
    batch.seen[str(web01.pk)] = now
    storage.write(batch)
    Snapshot.objects.create(
        server=web01, ts=now, received_at=now, score=0.7,
        payload={"docker_events": [{"action": "start", "container": "web-app", "image": "nginx"}], "local_alerts": ["CPU_SPIKE"]},
        processes=[{"pid": 1, "name": "nginx", "cpu_percent": 12.5, "memory_mb": 80}],
    )  # fmt: skip
    return web01


@pytest.fixture
def firing(web01):
    rule = AlertRule.objects.create(name="cpu high", metric_type="cpu", metric_name="usage", threshold=90)
    alert = Alert.objects.create(
        rule=rule, server=web01, fingerprint=rule.fingerprint(web01.pk, {}), value=95, labels={"alertname": "cpu high"}
    )
    alert.fire(95.0)
    return alert


PAGES = ["dashboards:fleet", "dashboards:alerts", "dashboards:logs", "dashboards:services", "dashboards:events"]


@pytest.mark.parametrize("name", PAGES)
def test_a_stranger_is_sent_to_log_in(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and response["Location"].startswith("/console/login")


def test_the_root_sends_a_browser_to_the_fleet(client):
    response = client.get("/", HTTP_ACCEPT="text/html")
    assert response["Location"] == reverse("dashboards:fleet")


def test_a_typed_login_path_and_the_browsers_favicon_request_lead_somewhere(client):
    assert client.get("/login?next=/console/alerts").url == reverse("dashboards:login") + "?next=/console/alerts"
    assert client.get("/login/").url == reverse("dashboards:login")
    favicon = client.get("/favicon.ico")
    assert favicon.status_code == 301 and favicon.url.endswith("console/favicon.svg")
    assert 'rel="icon"' in client.get(reverse("dashboards:login")).content.decode()


@pytest.mark.parametrize("name", PAGES)
def test_a_person_sees_each_page(client, bob, stored, firing, name):
    client.force_login(bob)
    response = client.get(reverse(name))
    assert response.status_code == 200


def test_the_fleet_shows_status_figures_and_alerts(client, bob, stored, firing):
    client.force_login(bob)
    page = client.get(reverse("dashboards:fleet")).content.decode()
    assert "web-01" in page and "status-up" in page
    assert 'data-kind="cpu"' in page and "40.0" in page  # latest cpu sample
    assert 'data-kind="memory"' in page and "60.0" in page
    assert "cpu high" in page


def test_the_fleet_filters_by_environment_team_and_label(client, bob, stored):
    from servers.models import Server

    Server.objects.create(hostname="db-01", environment="staging", owner_team="data", labels={"role": "db"})
    client.force_login(bob)
    for query, shown, hidden in (
        ("environment=staging", "db-01", "web-01"),
        ("team=devops", "web-01", "db-01"),
        ("label=role=db", "db-01", "web-01"),
    ):
        page = client.get(reverse("dashboards:fleet") + "?" + query).content.decode()
        assert f">{shown}<" in page and f">{hidden}<" not in page, query


def test_the_server_page_shows_snapshot_logs_events_and_alerts(client, bob, stored, firing):
    client.force_login(bob)
    page = client.get(reverse("dashboards:server", args=[stored.pk])).content.decode()
    for text in ("web-app", "CPU_SPIKE", "nginx", "payment gateway timeout", "api_call", "cpu high"):
        assert text in page, text


def test_an_unknown_server_is_404(client, bob):
    client.force_login(bob)
    assert client.get(reverse("dashboards:server", args=["nope"])).status_code == 404


@pytest.mark.parametrize("rng", ["15m", "1h", "6h", "24h", "7d", "30d"])
def test_chart_data_for_each_range(client, bob, stored, rng):
    client.force_login(bob)
    data = client.get(reverse("dashboards:series", args=[stored.pk]) + f"?range={rng}").json()
    assert data["range"] == rng
    keys = [c["key"] for c in data["charts"]]
    assert keys[:2] == ["cpu.usage", "system.memory_usage"]
    cpu = data["charts"][0]["lines"][0]["points"]
    assert cpu and all(40.0 <= v <= 49.0 for _, v in cpu)


def test_chart_data_refuses_bad_times(client, bob, stored):
    client.force_login(bob)
    response = client.get(reverse("dashboards:series", args=[stored.pk]) + "?from=x&to=y")
    assert response.status_code == 400


def test_acknowledge_from_the_alerts_page(client, bob, firing):
    client.force_login(bob)
    page = client.get(reverse("dashboards:alerts")).content.decode()
    assert "cpu high" in page and "Acknowledge" in page
    response = client.post(reverse("dashboards:alert-acknowledge", args=[firing.pk]), {"next": "/console/alerts"})
    assert response.status_code == 302
    firing.refresh_from_db()
    assert firing.acknowledged_by == bob


def test_acknowledge_with_htmx_answers_the_row(client, bob, firing):
    client.force_login(bob)
    response = client.post(reverse("dashboards:alert-acknowledge", args=[firing.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "✓ bob" in response.content.decode()


def test_silence_from_the_page_moves_the_alert_to_silenced(client, carol, firing):
    client.force_login(carol)
    client.post(reverse("dashboards:alert-silence", args=[firing.pk]), {"duration": "4h"})
    silence = Silence.objects.get()
    assert silence.matchers == {"alertname": "cpu high"} and silence.created_by == carol
    assert "cpu high" in client.get(reverse("dashboards:alerts") + "?state=silenced").content.decode()
    assert "cpu high" not in client.get(reverse("dashboards:alerts") + "?state=firing").content.decode()


def test_a_silence_of_an_unknown_length_is_refused(client, carol, firing):
    client.force_login(carol)
    client.post(reverse("dashboards:alert-silence", args=[firing.pk]), {"duration": "forever"})
    assert not Silence.objects.exists()


def test_the_alert_detail_shows_its_timeline(client, bob, firing):
    firing.resolve(40.0)
    client.force_login(bob)
    page = client.get(reverse("dashboards:alert", args=[firing.pk])).content.decode()
    assert "state-firing" in page and "state-resolved" in page
    assert firing.state == AlertState.RESOLVED


def test_log_search_filters_by_text_level_and_service(client, bob, stored):
    client.force_login(bob)
    url = reverse("dashboards:logs")
    row = '<td class="logmsg">payment gateway timeout'
    assert row in client.get(url + "?q=gateway").content.decode()
    assert row not in client.get(url + "?q=database").content.decode()
    assert row not in client.get(url + "?level=INFO").content.decode()
    assert row in client.get(url + "?level=ERROR&service=checkout").content.decode()


def test_services_and_events_pages_show_health_and_verdicts(client, bob, stored):
    client.force_login(bob)
    services = client.get(reverse("dashboards:services")).content.decode()
    assert "checkout" in services and "svc-unhealthy" in services  # one error in one line
    events = client.get(reverse("dashboards:events") + "?status=CRITICAL").content.decode()
    assert "status 500 with a success body" in events and "ESCALATE" in events
