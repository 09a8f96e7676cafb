"""An agent sends something that can never be stored: 400 naming the field, nothing stored."""

import orjson
import pytest
from django.test import override_settings

from ingest.tests.payloads import SEED000_MINIMAL, SEED002_BODY, seed001_body
from monitoring.models import Event, LogEntry, Sample, Series, Snapshot

pytestmark = pytest.mark.django_db

METRIC = {"metric_type": "cpu", "metric_name": "usage", "value": 1.0, "labels": {}, "timestamp": "2025-11-20T10:00:00Z"}


def _post(client, path, body):
    data = body if isinstance(body, (bytes, str)) else orjson.dumps(body)
    return client.post(path, data, content_type="application/json")


def _refused(response, field):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["errors"][0]["field"] == field, body
    assert field in body["detail"]
    assert not Sample.objects.exists()
    assert not Series.objects.exists()
    assert not LogEntry.objects.exists()
    assert not Event.objects.exists()
    assert not Snapshot.objects.exists()


def _bulk(*metrics):
    return {"metrics": [METRIC, METRIC, METRIC, *metrics]}


@pytest.mark.parametrize("path", ["/ingest", "/api/v1/ingest", "/ingest/metrics"])
def test_malformed_json(agent, path):
    response = _post(agent, path, b'{"metrics": [')

    _refused(response, "")
    assert "malformed JSON" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/ingest", "/api/v1/ingest", "/ingest/metrics"])
def test_a_body_that_is_not_an_object(agent, path):
    _refused(_post(agent, path, b"[1, 2]"), "")


def test_empty_body(agent):
    _refused(_post(agent, "/api/v1/ingest", b""), "")


def test_metrics_missing(agent):
    _refused(_post(agent, "/api/v1/ingest", {"server_id": None}), "metrics")


def test_metrics_not_a_list(agent):
    _refused(_post(agent, "/api/v1/ingest", {"metrics": {"cpu": 1}}), "metrics")


def test_a_metric_that_is_not_an_object(agent):
    _refused(_post(agent, "/api/v1/ingest", _bulk("cpu=1")), "metrics[3]")


@pytest.mark.parametrize("field", ["metric_type", "metric_name", "value"])
def test_a_required_field_missing(agent, field):
    metric = {k: v for k, v in METRIC.items() if k != field}
    _refused(_post(agent, "/api/v1/ingest", _bulk(metric)), f"metrics[3].{field}")


@pytest.mark.parametrize("value", ["45.2", True, None, [1], {"v": 1}])
def test_a_value_that_is_not_a_number(agent, value):
    _refused(_post(agent, "/api/v1/ingest", _bulk({**METRIC, "value": value})), "metrics[3].value")


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"1" + b"0" * 400])
def test_a_value_that_is_not_finite(agent, literal):
    good = orjson.dumps(METRIC).decode()
    bad = good.replace('"value":1.0', '"value":' + literal.decode())
    body = '{"metrics": [' + ",".join([good, good, good, bad]) + "]}"

    _refused(_post(agent, "/api/v1/ingest", body), "metrics[3].value")


@pytest.mark.parametrize("field,value", [("metric_type", 5), ("metric_name", ""), ("metric_type", "x" * 200)])
def test_a_name_that_is_not_a_short_text(agent, field, value):
    _refused(_post(agent, "/api/v1/ingest", _bulk({**METRIC, field: value})), f"metrics[3].{field}")


def test_labels_that_are_not_an_object(agent):
    _refused(_post(agent, "/api/v1/ingest", _bulk({**METRIC, "labels": ["core", "0"]})), "metrics[3].labels")


@pytest.mark.parametrize("ts", ["yesterday", "2025-13-01T00:00:00Z", True, [2025]])
def test_a_timestamp_that_is_not_one(agent, ts):
    _refused(_post(agent, "/api/v1/ingest", _bulk({**METRIC, "timestamp": ts})), "metrics[3].timestamp")


@override_settings(INGEST_MAX_FUTURE_SECONDS=3600)
@pytest.mark.parametrize("ts", ["2999-01-01T00:00:00Z", 32503680000])
def test_a_timestamp_far_in_the_future(agent, ts):
    response = _post(agent, "/api/v1/ingest", _bulk({**METRIC, "timestamp": ts}))

    _refused(response, "metrics[3].timestamp")
    assert "future" in response.json()["detail"]


def test_a_timestamp_before_1970(agent):
    _refused(_post(agent, "/api/v1/ingest", _bulk({**METRIC, "timestamp": -5})), "metrics[3].timestamp")


def test_server_id_of_the_wrong_type(fleet):
    _refused(_post(fleet, "/api/v1/ingest", {"server_id": 7, "metrics": [METRIC]}), "server_id")


def test_an_unknown_server_id(fleet):
    body = {"server_id": "6f1c1d1e-0000-4000-8000-000000000000", "metrics": [METRIC]}
    _refused(_post(fleet, "/api/v1/ingest", body), "server_id")


# seed 000


def test_seed000_host_missing(fleet):
    body = {k: v for k, v in SEED000_MINIMAL.items() if k != "host"}
    _refused(_post(fleet, "/ingest", body), "host")


def test_seed000_a_known_metric_that_is_not_a_number(agent):
    body = {**SEED000_MINIMAL, "metrics": {**SEED000_MINIMAL["metrics"], "cpu_usage": "high"}}
    _refused(_post(agent, "/ingest", body), "metrics.cpu_usage")


def test_seed000_metrics_not_an_object(agent):
    _refused(_post(agent, "/ingest", {**SEED000_MINIMAL, "metrics": [1, 2]}), "metrics")


def test_seed000_a_score_that_is_not_finite(agent):
    body = orjson.dumps(SEED000_MINIMAL).decode().replace('"score":0.5', '"score":NaN')
    _refused(_post(agent, "/ingest", body), "score")


def test_seed000_a_log_without_an_object(agent):
    _refused(_post(agent, "/ingest", {**SEED000_MINIMAL, "logs": ["oops"]}), "logs[0]")


def test_seed000_a_log_timestamp_in_the_future(agent):
    logs = [{"container": "web", "message": "hi", "timestamp": "2999-01-01T00:00:00Z"}]
    _refused(_post(agent, "/ingest", {**SEED000_MINIMAL, "logs": logs}), "logs[0].timestamp")


def test_seed000_a_docker_event_that_is_not_an_object(agent):
    _refused(_post(agent, "/ingest", {**SEED000_MINIMAL, "docker_events": [1]}), "docker_events[0]")


def test_seed000_a_local_alert_that_is_not_a_text(agent):
    _refused(_post(agent, "/ingest", {**SEED000_MINIMAL, "local_alerts": [{"a": 1}]}), "local_alerts[0]")


# seed 002


def test_seed002_timestamp_missing(agent):
    body = {k: v for k, v in SEED002_BODY.items() if k != "timestamp"}
    _refused(_post(agent, "/ingest/metrics", body), "timestamp")


def test_seed002_total_cpu_missing(agent):
    body = {k: v for k, v in SEED002_BODY.items() if k != "total_cpu_percent"}
    _refused(_post(agent, "/ingest/metrics", body), "total_cpu_percent")


@pytest.mark.parametrize("field", ["pid", "name", "cpu_percent", "memory_mb"])
def test_seed002_a_process_field_missing(agent, field):
    process = {k: v for k, v in SEED002_BODY["top_processes"][0].items() if k != field}
    body = {**SEED002_BODY, "top_processes": [SEED002_BODY["top_processes"][0], process]}
    _refused(_post(agent, "/ingest/metrics", body), f"top_processes[1].{field}")


def test_seed002_a_pid_that_is_not_an_integer(agent):
    process = {**SEED002_BODY["top_processes"][0], "pid": "1234"}
    _refused(_post(agent, "/ingest/metrics", {**SEED002_BODY, "top_processes": [process]}), "top_processes[0].pid")


def test_seed002_an_epoch_far_in_the_future(agent):
    _refused(_post(agent, "/ingest/metrics", {**SEED002_BODY, "timestamp": 99999999999}), "timestamp")


def test_seed001_wrong_type_of_the_body_key_names_the_path(agent, web01):
    body = seed001_body(web01.id)
    body["metrics"][1]["value"] = "78.5"
    _refused(_post(agent, "/api/v1/ingest", body), "metrics[1].value")


HUGE = 10**400  # JSON allows integers of any length; no float holds this one


@pytest.mark.parametrize(
    "path,body,field",
    [
        (
            "/ingest",
            {**SEED000_MINIMAL, "metrics": {**SEED000_MINIMAL["metrics"], "cpu_usage": HUGE}},
            "metrics.cpu_usage",
        ),
        ("/ingest/metrics", {**SEED002_BODY, "total_cpu_percent": HUGE}, "total_cpu_percent"),
        ("/api/v1/ingest", _bulk({**METRIC, "value": HUGE}), "metrics[3].value"),
    ],
    ids=["seed000", "seed002", "seed001"],
)
def test_an_integer_too_large_for_any_float_is_refused_naming_the_field(agent, path, body, field):
    _refused(agent.post(path, body, content_type="application/json"), field)
