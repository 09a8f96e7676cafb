"""Clients read the monitoring APIs from their schema: every answer has the shape /api/schema/ gives it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitoring import events, records, storage
from monitoring.api import shapes

pytestmark = pytest.mark.django_db

# endpoint -> (its documented shape, answered as a list)
READS = {
    "/api/v1/metrics?server_id={server}&from={start}&step=1m": (shapes.MetricSeries, True),
    "/api/v1/metrics?server_id={server}": (shapes.MetricSeries, True),
    "/api/metrics/recent": (shapes.RecentSample, True),
    "/api/v1/logs?q=timeout": (shapes.LogPage, False),
    "/api/logs/services": (shapes.ServiceList, False),
    "/api/health/": (shapes.HealthOverview, False),
    "/api/health/services/checkout": (shapes.ServiceHealthDetail, False),
    "/api/status": (shapes.Status, False),
    "/api/analytics/trends/checkout?hours=2&bucket=1h": (shapes.Trends, False),
    "/api/analytics/errors/patterns": (shapes.ErrorPatterns, False),
    "/api/v1/monitoring/logs": (shapes.EventPage, False),
    "/api/v1/monitoring/health": (shapes.EventHealth, False),
    "/api/v1/monitoring/stats": (shapes.EventStats, False),
}


@pytest.fixture
def stored(web01):
    now = datetime.now(UTC)
    batch = records.Batch()
    for minute in range(5):
        batch.add_sample(web01.pk, "cpu", "usage", {"core": "0"}, now - timedelta(minutes=minute), 40.0 + minute)
    batch.logs.append(records.LogRecord(now, web01.pk, "checkout", "ERROR", "payment gateway timeout", {"a": 1}, "t"))
    batch.logs.append(records.LogRecord(now, web01.pk, "checkout", "CRITICAL", "payment gateway down", {}, "t"))
    batch.seen[str(web01.pk)] = now
    storage.write(batch)
    events.record(events.Submitted("orders", "api_call", {"response_time": 9000}, server_id=str(web01.pk)))
    return web01


@pytest.mark.parametrize("url", READS)
def test_each_read_answers_the_shape_its_schema_gives(api, stored, url):
    shape, many = READS[url]
    start = (datetime.now(UTC) - timedelta(minutes=10)).isoformat().replace("+00:00", "Z")
    response = api.get(url.format(server=stored.pk, start=start))
    assert response.status_code == 200
    body = response.json()
    assert body, "an empty answer proves nothing"
    checked = shape(data=body, many=many)
    assert checked.is_valid(), checked.errors
    documented = set(shape().fields)
    for item in body if many else [body]:
        assert documented >= set(item), f"answered but not documented: {set(item) - documented}"


def test_the_schema_names_each_reads_shape(client, alice):
    client.force_login(alice)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]
    for name in ("LogPage", "HealthOverview", "MetricSeries", "EventPage", "EventStats", "Error"):
        assert components[name]["properties"], name
    answer = schema["paths"]["/api/v1/logs"]["get"]["responses"]
    assert answer["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/LogPage")
    assert answer["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")


def test_a_bad_parameter_answers_the_one_error_shape(api):
    response = api.get("/api/v1/metrics?step=0s&from=2026-01-01T00:00:00Z")
    assert response.status_code == 400
    body = response.json()
    assert body["errors"] == [{"field": "step", "message": body["step"][0]}]  # DRF's field-keyed body stays
    assert body["detail"].startswith("invalid payload: step")


def test_a_refusal_without_a_field_answers_the_one_error_shape(client):
    response = client.get("/api/v1/logs")
    assert response.status_code in (401, 403)
    assert set(response.json()) == {"detail", "errors"} and response.json()["errors"] == []
