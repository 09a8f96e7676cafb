"""Every console page and list endpoint runs a pinned number of queries, however many rows it shows (no N+1).

The pins are in query_counts.json beside this file (as NetBox's). Each page is
read over a small console, then again after as much again was added: both
readings must equal the pin. A new page or list endpoint gets a line there.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import get_resolver, resolve

from alerts.choices import DeliveryStatus, MessageKind
from alerts.models import Alert, AlertRule, Analysis, Delivery, Notification, NotificationChannel, Silence
from monitoring import events, records, storage
from monitoring.models import Snapshot
from servers.models import Server

pytestmark = pytest.mark.django_db

PINNED: dict[str, int] = json.loads((Path(__file__).parent / "query_counts.json").read_text())

# what each pinned name reads; {server} and {alert} are filled in with one of the console's own
PAGES = {
    "page fleet": "/console/",
    "page server": "/console/servers/{server}",
    "page server series": "/console/servers/{server}/series.json",
    "page server timeline": "/console/servers/{server}/timeline",
    "page alerts firing": "/console/alerts?state=firing",
    "page alerts pending": "/console/alerts?state=pending",
    "page alerts silenced": "/console/alerts?state=silenced",
    "page alerts resolved": "/console/alerts?state=resolved",
    "page alert": "/console/alerts/{alert}",
    "page logs": "/console/logs",
    "page services": "/console/services",
    "page events": "/console/events",
    "page storage": "/console/storage",
}
ENDPOINTS = {
    "api servers": "/api/v1/servers",
    "api alert rules": "/api/v1/alert-rules",
    "api alerts": "/api/v1/alerts",
    "api silences": "/api/v1/silences",
    "api alerts recent": "/api/alerts/recent",
    "api health alerts": "/api/health/alerts",
    "api notifications": "/api/notifications/",
    "api notification channels": "/api/notifications/channels",
    "api analyses": "/api/v1/analyses",
    "api logs": "/api/v1/logs",
    "api log services": "/api/logs/services",
    "api event logs": "/api/v1/monitoring/logs",
    "api metrics": "/api/v1/metrics?server_id={server}",
    "api metrics recent": "/api/metrics/recent",
}


class Console:
    """A console with ``n`` more servers each time ``grow`` is called, with everything the pages list."""

    def __init__(self):
        self.rules = [
            AlertRule.objects.create(name="cpu high", metric_type="cpu", metric_name="usage", threshold=90),
            AlertRule.objects.create(name="disk full", metric_type="disk", metric_name="usage", threshold=95),
        ]
        self.channel = NotificationChannel.objects.create(name="ops hook", kind="webhook", config={"url": "http://x"})
        self.servers: list[Server] = []
        self.alerts: list[Alert] = []

    def grow(self, n: int) -> None:
        now = datetime.now(UTC)
        for _ in range(n):
            server = Server.objects.create(hostname=f"web-{len(self.servers) + 1:02d}", environment="production")
            self.servers.append(server)
            batch = records.Batch()
            for minute in range(5):
                ts = now - timedelta(minutes=minute)
                batch.add_sample(server.pk, "cpu", "usage", {}, ts, 40.0 + minute)
                batch.add_sample(server.pk, "disk", "usage", {"mount": "/"}, ts, 55.0)
            for service, level in (("checkout", "ERROR"), (f"svc-{server.hostname}", "INFO")):
                batch.logs.append(records.LogRecord(now, server.pk, service, level, "payment gateway timeout", {}, "t"))
            batch.seen[str(server.pk)] = now
            storage.write(batch)
            Snapshot.objects.create(server=server, ts=now, received_at=now, payload={}, processes=[])
            events.record(events.Submitted("orders", "api_call", {"response_time": 9000}, server_id=str(server.pk)))
            self._alerts_of(server)
        Silence.objects.create(matchers={"server": self.servers[-1].hostname}, ends_at=now + timedelta(hours=1))

    def _alerts_of(self, server: Server) -> None:
        for rule in self.rules:
            alert = Alert.objects.create(
                rule=rule, server=server, fingerprint=rule.fingerprint(server.pk, {}), value=97,
                labels={"alertname": rule.name, "server": server.hostname},
            )  # fmt: skip
            alert.fire(97.0)
            Delivery.objects.create(
                channel=self.channel, alert=alert, kind=MessageKind.FIRING, status=DeliveryStatus.SENT
            )
            Notification.objects.create(title=f"{rule.name} on {server}", alert=alert)
            Analysis.objects.create(alert=alert)
            self.alerts.append(alert)
        pending = Alert.objects.create(rule=self.rules[0], server=server, fingerprint=f"p-{server.pk}", value=91)
        resolved = Alert.objects.create(rule=self.rules[1], server=server, fingerprint=f"r-{server.pk}", value=99)
        resolved.fire(99.0)
        resolved.resolve(10.0)
        self.alerts += [pending, resolved]


def _queries(client, url: str) -> int:
    client.get(url)  # warm: the token's last-used touch, a session's first save, caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(queries)


def _readings(client, urls: dict[str, str], console: Console) -> dict[str, int]:
    fill = {"server": console.servers[0].pk, "alert": console.alerts[0].pk}
    return {name: _queries(client, url.format(**fill)) for name, url in urls.items()}


@pytest.fixture
def console(db):
    return Console()


# the console's routes that are not pages to read: logging in and out, the alert actions (POST)
NOT_PAGES = {"login", "logout", "alert-acknowledge", "alert-silence"}


def test_every_page_and_list_is_pinned():
    assert set(PINNED) == set(PAGES) | set(ENDPOINTS)


def test_every_console_page_is_measured():
    console = get_resolver().namespace_dict["dashboards"][1]
    routes = {pattern.name for pattern in console.url_patterns}
    measured = {resolve(url.format(server=uuid.uuid4(), alert=1).split("?")[0]).url_name for url in PAGES.values()}
    assert routes - NOT_PAGES == measured


def test_console_pages_run_their_pinned_queries_however_many_rows(client, bob, console):
    client.force_login(bob)
    console.grow(2)
    small = _readings(client, PAGES, console)
    console.grow(3)
    large = _readings(client, PAGES, console)
    assert small == large == {name: PINNED[name] for name in PAGES}, (small, large)


def test_list_endpoints_run_their_pinned_queries_however_many_rows(api, console):
    console.grow(2)
    small = _readings(api, ENDPOINTS, console)
    console.grow(3)
    large = _readings(api, ENDPOINTS, console)
    assert small == large == {name: PINNED[name] for name in ENDPOINTS}, (small, large)
