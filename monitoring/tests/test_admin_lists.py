"""Admins browse big tables in Django admin: lists render without a full count, in a fixed number of queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts.models import Alert, AlertRule, Delivery, NotificationChannel
from monitoring.models import Series
from servers.models import Server

pytestmark = pytest.mark.django_db


@pytest.fixture
def many(web01):
    servers = [Server.objects.create(hostname=f"host-{i:02d}") for i in range(12)]
    Series.objects.bulk_create(
        Series(server=s, metric_type="cpu", name="usage", labels={"core": str(c)}) for s in servers for c in range(4)
    )
    rule = AlertRule.objects.create(name="cpu high", metric_type="cpu", metric_name="usage", threshold=90)
    channel = NotificationChannel.objects.create(name="hook", kind="webhook", config={"url": "http://x"})
    for s in servers:
        alert = Alert.objects.create(rule=rule, server=s, fingerprint=rule.fingerprint(s.pk, {}), value=95)
        Delivery.objects.create(channel=channel, alert=alert, kind="firing", status="sent", response_code=200)
    return servers


@pytest.mark.parametrize(
    "url",
    [
        "/admin/monitoring/series/",
        "/admin/monitoring/snapshot/",
        "/admin/alerts/alert/",
        "/admin/alerts/delivery/",
        "/admin/alerts/analysis/",
        "/admin/servers/server/",
    ],
)
def test_an_admin_lists_big_tables_without_counting_them_all(client, alice, many, url):
    client.force_login(alice)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    sql = [q["sql"] for q in queries.captured_queries]
    # one query per row would grow with the page; a full COUNT(*) of an unfiltered table is what we avoid
    assert len(sql) < 15, sql
    unbounded = [q for q in sql if q.startswith("SELECT COUNT(*)") and "LIMIT" not in q and "WHERE" not in q]
    assert len(unbounded) <= 1, unbounded  # Django's paginator count of the (filtered) list, never a second full count


def test_series_and_deliveries_are_read_only(client, alice, many):
    client.force_login(alice)
    assert client.get("/admin/monitoring/series/add/").status_code == 403
    assert client.get("/admin/alerts/delivery/add/").status_code == 403


def test_an_admin_resolves_alerts_by_hand(client, alice, many):
    from alerts.choices import AlertState

    client.force_login(alice)
    alerts = list(Alert.objects.all()[:2])
    response = client.post(
        "/admin/alerts/alert/", {"action": "resolve", "_selected_action": [a.pk for a in alerts]}, follow=True
    )
    assert b"2 alert(s) resolved." in response.content
    for alert in alerts:
        alert.refresh_from_db()
        assert alert.state == AlertState.RESOLVED
        assert "resolved by alice in admin" in alert.transitions.last().note
