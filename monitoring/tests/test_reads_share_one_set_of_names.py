"""A script reads metrics from any read API under one set of names; today's names keep working."""

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from alerts.models import Alert, AlertRule
from monitoring.records import Batch
from monitoring.storage import write

pytestmark = pytest.mark.django_db

NAMES = {"server_id", "hostname", "metric_type", "metric_name", "labels", "timestamp", "value"}


@pytest.fixture
def cpu(web01):
    batch = Batch()
    now = datetime.now(UTC).replace(microsecond=0)
    for age, value in ((60, 40.0), (0, 42.5)):
        batch.add_sample(web01.pk, "cpu", "usage", {"core": "0"}, now - timedelta(seconds=age), value)
    batch.seen[str(web01.pk)] = now
    write(batch)
    return now


def test_the_latest_metrics_answer_the_shared_names_and_the_old_ones(api, web01, cpu):
    [series] = api.get(f"/api/v1/metrics?server_id={web01.pk}&metric_type=cpu").json()
    assert NAMES <= set(series)
    assert (series["server_id"], series["hostname"], series["metric_name"]) == (str(web01.pk), "web-01", "usage")
    assert (series["timestamp"], series["value"]) == (cpu.isoformat().replace("+00:00", "Z"), 42.5)
    # today's names, kept as aliases
    assert (series["server"], series["name"], series["id"]) == (series["server_id"], "usage", series["series_id"])


def test_a_range_answers_points_under_the_same_series_names(api, web01, cpu):
    since = (cpu - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    [series] = api.get(f"/api/v1/metrics?server_id={web01.pk}&from={since}").json()
    assert {"server_id", "hostname", "metric_type", "metric_name", "labels"} <= set(series)
    assert [value for _, value in series["points"]] == [40.0, 42.5]


def test_recent_metrics_use_the_same_names(api, cpu):
    rows = api.get("/api/metrics/recent").json()
    assert rows and all(set(row) == NAMES for row in rows)


def test_recent_alerts_name_the_server_as_the_other_reads_do(api, web01):
    rule = AlertRule.objects.create(name="cpu high", metric_type="cpu", metric_name="usage", threshold=90)
    alert = Alert.objects.create(rule=rule, server=web01, fingerprint=rule.fingerprint(web01.id, {}), value=97)
    alert.opened()
    alert.fire(97)
    event = api.get("/api/alerts/recent").json()[0]  # fired (newest), then opened
    assert (event["server_id"], event["hostname"], event["server"]) == (str(web01.pk), "web-01", "web-01")


def test_get_api_answers_seed004s_map_to_anyone():
    response = APIClient().get("/api/")
    assert response.status_code == 200
    endpoints = response.json()["endpoints"]
    assert endpoints["logs"]["stream"] == "/api/logs/stream/{service_name}"
    assert endpoints["health"]["overview"] == "/api/health/"
    assert endpoints["analytics"]["error_patterns"] == "/api/analytics/errors/patterns"
    assert endpoints["notifications"]["bulk"] == "/api/notifications/bulk"
    assert endpoints["websockets"]["live"] == "/api/ws/live"
    assert endpoints["status"] == "/api/status"
    assert APIClient().get("/api").status_code == 200


def test_every_path_in_the_map_is_served(client, bob):
    """The map names no path the console does not answer (a person may reach each one)."""
    from django.urls import Resolver404, resolve

    from config.views import SEED004_API

    paths = [p for group in SEED004_API.values() for p in (group.values() if isinstance(group, dict) else [group])]
    for path in paths:
        concrete = path.replace("{service_name}", "checkout").replace("{alert_id}", "1")
        if concrete.startswith("/api/ws/"):
            continue  # WebSocket routes: tested in test_live_streams
        try:
            resolve(concrete)
        except Resolver404:
            pytest.fail(f"{path} is in the map but not served")
