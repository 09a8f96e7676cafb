"""A seed 001 agent posts bulk metrics to POST /api/v1/ingest."""

from datetime import UTC, datetime

import pytest

from ingest.tests.payloads import seed001_body
from monitoring.models import Sample, Series

pytestmark = pytest.mark.django_db


def test_bulk_metrics_are_stored_as_series_and_samples(agent, web01):
    response = agent.post("/api/v1/ingest", seed001_body(web01.id), content_type="application/json")

    assert response.status_code == 202, response.content
    assert response.json()["count"] == 2
    cpu = Series.objects.get(server=web01, metric_type="cpu", name="usage")
    assert cpu.labels == {"core": "0"}
    sample = Sample.objects.get(series=cpu)
    assert (sample.ts, sample.value) == (datetime(2025, 11, 20, 10, tzinfo=UTC), 45.2)
    ram = Series.objects.get(server=web01, metric_type="ram")
    assert (ram.name, ram.labels) == ("usage_percent", {})
    web01.refresh_from_db()
    assert web01.last_seen == datetime(2025, 11, 20, 10, tzinfo=UTC)


def test_trailing_slash_is_accepted(agent, web01):
    response = agent.post("/api/v1/ingest/", seed001_body(web01.id), content_type="application/json")

    assert response.status_code == 202


def test_agent_token_may_leave_out_server_id(agent, web01):
    body = seed001_body(web01.id)
    del body["server_id"]

    response = agent.post("/api/v1/ingest", body, content_type="application/json")

    assert response.status_code == 202
    assert Sample.objects.filter(series__server=web01).count() == 2


def test_labels_and_timestamp_may_be_left_out(agent, web01):
    body = {"metrics": [{"metric_type": "disk", "metric_name": "used", "value": 3}]}

    response = agent.post("/api/v1/ingest", body, content_type="application/json")

    assert response.status_code == 202
    sample = Sample.objects.get(series__server=web01)
    assert sample.value == 3.0
    assert abs((datetime.now(UTC) - sample.ts).total_seconds()) < 60


def test_fleet_token_writes_for_a_registered_server_by_id(fleet, web01):
    response = fleet.post("/api/v1/ingest", seed001_body(web01.id), content_type="application/json")

    assert response.status_code == 202
    assert Sample.objects.filter(series__server=web01).count() == 2


def test_same_labels_in_another_order_are_one_series(agent, web01):
    metric = {"metric_type": "disk", "metric_name": "used", "value": 1, "timestamp": "2025-11-20T10:00:00Z"}
    body = {
        "metrics": [
            {**metric, "labels": {"mount": "/", "dev": "sda"}},
            {**metric, "labels": {"dev": "sda", "mount": "/"}, "timestamp": "2025-11-20T10:00:10Z"},
        ]
    }

    agent.post("/api/v1/ingest", body, content_type="application/json")

    assert Series.objects.filter(server=web01, metric_type="disk").count() == 1


def test_a_day_without_a_partition_is_not_refused(agent, web01):
    body = {
        "metrics": [{"metric_type": "cpu", "metric_name": "usage", "value": 1, "timestamp": "2019-03-04T05:06:07Z"}]
    }

    response = agent.post("/api/v1/ingest", body, content_type="application/json")

    assert response.status_code == 202
    assert Sample.objects.get(series__server=web01).ts.year == 2019


def test_a_thousand_samples_in_one_request(agent, web01):
    metrics = [
        {
            "metric_type": "cpu",
            "metric_name": "usage",
            "value": i,
            "labels": {"core": str(i % 8)},
            "timestamp": 1763632800 + i,
        }
        for i in range(1000)
    ]

    response = agent.post("/api/v1/ingest", {"metrics": metrics}, content_type="application/json")

    assert response.status_code == 202
    assert response.json()["samples"] == 1000
    assert Series.objects.filter(server=web01).count() == 8


def test_labels_equal_as_values_but_not_as_json_are_separate_series(agent, web01):
    metric = {"metric_type": "disk", "metric_name": "used", "value": 1, "timestamp": "2025-11-20T10:00:00Z"}
    body = {
        "metrics": [
            {**metric, "labels": {"dev": 1}},
            {**metric, "labels": {"dev": True}},
            {**metric, "labels": {"dev": "1"}},
            {**metric, "labels": {"dev": "1"}},
        ]
    }

    response = agent.post("/api/v1/ingest", body, content_type="application/json")

    assert response.status_code == 202, response.content
    labels = sorted(str(s.labels["dev"]) for s in Series.objects.filter(server=web01, metric_type="disk"))
    assert labels == ["1", "1", "True"]


def test_a_run_of_one_timestamp_with_a_bad_one_inside_names_the_bad_one(agent, web01):
    metric = {"metric_type": "cpu", "metric_name": "usage", "value": 1, "timestamp": "2025-11-20T10:00:00Z"}
    body = {"metrics": [metric, metric, {**metric, "timestamp": "yesterday"}, metric]}

    response = agent.post("/api/v1/ingest", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "metrics[2].timestamp"
    assert not Sample.objects.filter(series__server=web01).exists()
