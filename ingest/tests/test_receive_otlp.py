"""OpenTelemetry exporters push metrics and logs to /v1/metrics and /v1/logs (OTLP/HTTP)."""

import gzip
import math
import time

import orjson
import pytest
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import SeverityNumber
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from monitoring.models import LogEntry, Sample, Series
from servers.choices import ServerKind
from servers.models import Server

pytestmark = pytest.mark.django_db

PROTOBUF = "application/x-protobuf"


def attrs(**values) -> list[KeyValue]:
    def any_value(v):
        if isinstance(v, bool):
            return AnyValue(bool_value=v)
        if isinstance(v, int):
            return AnyValue(int_value=v)
        if isinstance(v, float):
            return AnyValue(double_value=v)
        return AnyValue(string_value=v)

    return [KeyValue(key=k.replace("__", "."), value=any_value(v)) for k, v in values.items()]


def metrics_request(resource: dict, build) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    rm.resource.attributes.extend(attrs(**resource))
    sm = rm.scope_metrics.add()
    sm.scope.name = "checkout"
    build(sm.metrics)
    return request


def now_ns() -> int:
    return time.time_ns()


def post(client, token, message, *, encoding=PROTOBUF, gzipped=False, path="/v1/metrics", raw: bytes | None = None):
    if raw is not None:
        body = raw
    elif encoding == PROTOBUF:
        body = message.SerializeToString()
    else:
        body = json_format.MessageToJson(message).encode()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    if gzipped:
        body = gzip.compress(body)
        headers["HTTP_CONTENT_ENCODING"] = "gzip"
    return client.post(path, data=body, content_type=encoding, **headers)


def gauge_sum_histogram(metrics, ts=None):
    ts = ts or now_ns()
    gauge = metrics.add(name="process.memory.usage", unit="By")
    point = gauge.gauge.data_points.add(time_unix_nano=ts, as_int=123456)
    point.attributes.extend(attrs(pool="heap"))
    total = metrics.add(name="http.server.requests")
    total.sum.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
    total.sum.is_monotonic = True
    total.sum.data_points.add(time_unix_nano=ts, as_double=17.0).attributes.extend(attrs(route="/pay"))
    latency = metrics.add(name="http.server.duration", unit="ms")
    latency.histogram.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
    latency.histogram.data_points.add(
        time_unix_nano=ts,
        count=6,
        sum=321.5,
        bucket_counts=[1, 3, 2],
        explicit_bounds=[10.0, 100.5],
        min=2.0,
        max=190.0,
    )


def test_sdk_metrics_in_protobuf_become_series_of_the_host(client, fleet_token):
    request = metrics_request({"host__name": "app-01", "service__name": "checkout"}, gauge_sum_histogram)
    response = post(client, fleet_token, request)
    assert response.status_code == 200
    assert response["Content-Type"] == PROTOBUF
    answer = ExportMetricsServiceResponse.FromString(response.content)
    assert not answer.HasField("partial_success")
    server = Server.objects.get(hostname="app-01")
    assert server.kind == ServerKind.HOST
    memory = Series.objects.get(server=server, metric_type="otlp", name="process.memory.usage")
    assert memory.labels == {"pool": "heap", "service.name": "checkout"}
    assert Sample.objects.get(series=memory).value == 123456
    requests = Series.objects.get(name="http.server.requests")
    assert requests.labels == {"route": "/pay", "service.name": "checkout", "temporality": "cumulative"}
    buckets = {
        s.series.labels["le"]: s.value
        for s in Sample.objects.select_related("series").filter(series__name="http.server.duration_bucket")
    }
    assert buckets == {"10": 1, "100.5": 4, "+Inf": 6}
    values = {
        s.series.name: s.value for s in Sample.objects.select_related("series").exclude(series__labels__has_key="le")
    }
    assert values["http.server.duration_count"] == 6
    assert values["http.server.duration_sum"] == 321.5
    assert values["http.server.duration_min"] == 2.0
    assert values["http.server.duration_max"] == 190.0
    assert Series.objects.get(name="http.server.duration_count").labels["temporality"] == "delta"


def test_json_gzipped_metrics_are_answered_in_json(client, fleet_token):
    request = metrics_request({"host__name": "app-01"}, gauge_sum_histogram)
    response = post(client, fleet_token, request, encoding="application/json", gzipped=True)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {}
    assert Sample.objects.count() == 2 + 3 + 4


def test_otlp_json_as_the_spec_writes_it(client, fleet_token):
    ts = str(now_ns())
    body = {
        "resourceMetrics": [
            {
                "resource": {"attributes": [{"key": "host.name", "value": {"stringValue": "app-02"}}]},
                "scopeMetrics": [
                    {
                        "metrics": [
                            {
                                "name": "queue.depth",
                                "gauge": {
                                    "dataPoints": [
                                        {
                                            "timeUnixNano": ts,
                                            "asDouble": 3,
                                            "attributes": [{"key": "queue", "value": {"stringValue": "mail"}}],
                                            "exemplars": [
                                                {
                                                    "timeUnixNano": ts,
                                                    "asDouble": 3,
                                                    "traceId": "5b8efff798038103d269b633813fc60c",
                                                    "spanId": "eee19b7ec3c1b174",
                                                }
                                            ],
                                        }
                                    ]
                                },
                            }
                        ]
                    }
                ],
            }
        ]
    }
    response = post(client, fleet_token, None, encoding="application/json", raw=orjson.dumps(body))
    assert response.status_code == 200
    series = Series.objects.get(name="queue.depth")
    assert (series.server.hostname, series.labels) == ("app-02", {"queue": "mail"})


def test_a_service_without_host_name_is_registered_as_a_service(client, fleet_token):
    request = metrics_request({"service__name": "billing"}, gauge_sum_histogram)
    assert post(client, fleet_token, request).status_code == 200
    server = Server.objects.get(hostname="billing")
    assert server.kind == ServerKind.SERVICE
    assert "service.name" not in Series.objects.filter(server=server).first().labels


def test_an_agent_token_writes_for_its_own_server(client, agent_token, web01):
    request = metrics_request({"host__name": "not-web-01", "service__name": "api"}, gauge_sum_histogram)
    assert post(client, agent_token, request).status_code == 200
    assert set(Series.objects.values_list("server__hostname", flat=True)) == {"web-01"}


def test_points_that_cannot_be_stored_are_a_partial_success(client, fleet_token):
    def build(metrics):
        m = metrics.add(name="temperature")
        m.gauge.data_points.add(time_unix_nano=now_ns(), as_double=21.5)
        m.gauge.data_points.add(time_unix_nano=now_ns(), as_double=math.nan)
        m.gauge.data_points.add(time_unix_nano=now_ns() + 10 * 86400 * 10**9, as_double=20.0)
        m.gauge.data_points.add(time_unix_nano=now_ns())  # no value
        m.gauge.data_points.add(time_unix_nano=now_ns(), flags=1)  # no recorded value: skipped, not rejected

    for encoding in (PROTOBUF, "application/json"):
        response = post(client, fleet_token, metrics_request({"host__name": "app-01"}, build), encoding=encoding)
        assert response.status_code == 200
        if encoding == PROTOBUF:
            answer = ExportMetricsServiceResponse.FromString(response.content)
        else:
            answer = json_format.Parse(response.content, ExportMetricsServiceResponse())
        assert answer.partial_success.rejected_data_points == 3
        assert "not finite" in answer.partial_success.error_message
    assert [s.value for s in Sample.objects.all()] == [21.5, 21.5]


def test_metrics_without_a_resource_name_are_rejected_not_refused(client, fleet_token):
    response = post(client, fleet_token, metrics_request({"os__type": "linux"}, gauge_sum_histogram))
    assert response.status_code == 200
    answer = ExportMetricsServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_data_points == 3
    assert "host.name" in answer.partial_success.error_message


def logs_request(resource: dict, records: list[dict]) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    rl = request.resource_logs.add()
    rl.resource.attributes.extend(attrs(**resource))
    sl = rl.scope_logs.add()
    sl.scope.name = "checkout.payments"
    for record in records:
        record = dict(record)
        extra = record.pop("attributes", {})
        body = record.pop("body", None)
        log = sl.log_records.add(**record)
        if body is not None:
            log.body.CopyFrom(AnyValue(string_value=body) if isinstance(body, str) else body)
        log.attributes.extend(attrs(**extra))
    return request


def test_sdk_logs_become_log_entries_with_our_levels(client, fleet_token):
    ts = now_ns()
    structured = AnyValue()
    structured.kvlist_value.values.extend(attrs(event="refund", amount=12))
    request = logs_request(
        {"host__name": "app-01", "service__name": "checkout"},
        [
            {
                "time_unix_nano": ts,
                "severity_number": SeverityNumber.SEVERITY_NUMBER_ERROR,
                "body": "card declined",
                "attributes": {"order": "A-17"},
                "trace_id": bytes.fromhex("5b8efff798038103d269b633813fc60c"),
                "span_id": bytes.fromhex("eee19b7ec3c1b174"),
            },
            {"time_unix_nano": ts, "severity_number": SeverityNumber.SEVERITY_NUMBER_WARN2, "body": "slow"},
            {"time_unix_nano": ts, "severity_number": SeverityNumber.SEVERITY_NUMBER_TRACE, "body": "tick"},
            {"time_unix_nano": ts, "severity_number": SeverityNumber.SEVERITY_NUMBER_FATAL, "body": "down"},
            {"observed_time_unix_nano": ts, "severity_text": "warn", "body": "text only"},
            {"time_unix_nano": ts, "body": structured},
        ],
    )
    response = post(client, fleet_token, request, path="/v1/logs")
    assert response.status_code == 200
    assert not ExportLogsServiceResponse.FromString(response.content).HasField("partial_success")
    entries = {e.message: e for e in LogEntry.objects.all()}
    assert {m: e.level for m, e in entries.items()} == {
        "card declined": "ERROR",
        "slow": "WARNING",
        "tick": "DEBUG",
        "down": "CRITICAL",
        "text only": "WARNING",
        '{"event":"refund","amount":12}': "INFO",
    }
    declined = entries["card declined"]
    assert declined.service == "checkout"
    assert declined.server.hostname == "app-01"
    assert declined.source == "otlp"
    assert declined.metadata["order"] == "A-17"
    assert declined.metadata["trace_id"] == "5b8efff798038103d269b633813fc60c"
    assert declined.metadata["span_id"] == "eee19b7ec3c1b174"


def test_logs_of_a_service_without_host_have_no_server(client, fleet_token):
    request = logs_request({"service__name": "cron"}, [{"time_unix_nano": now_ns(), "body": "ran"}])
    response = post(client, fleet_token, request, path="/v1/logs", encoding="application/json", gzipped=True)
    assert response.status_code == 200
    entry = LogEntry.objects.get()
    assert (entry.service, entry.server_id, entry.message) == ("cron", None, "ran")


def test_otlp_json_logs_carry_hex_trace_ids(client, fleet_token):
    body = {
        "resourceLogs": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "web"}}]},
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "timeUnixNano": str(now_ns()),
                                "severityNumber": 17,
                                "severityText": "ERROR",
                                "body": {"stringValue": "boom"},
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                            }
                        ]
                    }
                ],
            }
        ]
    }
    response = post(client, fleet_token, None, path="/v1/logs", encoding="application/json", raw=orjson.dumps(body))
    assert response.status_code == 200
    entry = LogEntry.objects.get()
    assert entry.level == "ERROR"
    assert entry.metadata["trace_id"] == "5b8efff798038103d269b633813fc60c"


def test_a_log_record_from_the_future_is_a_partial_success(client, fleet_token):
    request = logs_request(
        {"service__name": "web"},
        [
            {"time_unix_nano": now_ns(), "body": "ok"},
            {"time_unix_nano": now_ns() + 10 * 86400 * 10**9, "body": "later"},
        ],
    )
    response = post(client, fleet_token, request, path="/v1/logs")
    answer = ExportLogsServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_log_records == 1
    assert [e.message for e in LogEntry.objects.all()] == ["ok"]


def status_of(response) -> status_pb2.Status:
    if response["Content-Type"] == "application/json":
        return json_format.Parse(response.content, status_pb2.Status())
    return status_pb2.Status.FromString(response.content)


def test_bad_protobuf_is_a_400_with_a_status(client, fleet_token):
    response = post(client, fleet_token, None, raw=b"\x0a\xff\xff\xff\xff\x0fnot protobuf")
    assert response.status_code == 400
    status = status_of(response)
    assert status.code == 3
    assert "ExportMetricsServiceRequest" in status.message


def test_bad_json_is_a_400_with_a_json_status(client, fleet_token):
    response = post(
        client, fleet_token, None, encoding="application/json", raw=b'{"resourceMetrics": [', path="/v1/metrics"
    )
    assert response.status_code == 400
    assert "malformed JSON" in status_of(response).message
    wrong = orjson.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": "soon"}]}]}]})
    response = post(client, fleet_token, None, encoding="application/json", raw=wrong, path="/v1/logs")
    assert response.status_code == 400


def test_a_body_that_is_not_gzip_is_a_400(client, fleet_token):
    response = client.post(
        "/v1/metrics",
        data=b"plain",
        content_type=PROTOBUF,
        HTTP_CONTENT_ENCODING="gzip",
        HTTP_AUTHORIZATION=f"Bearer {fleet_token}",
    )
    assert response.status_code == 400


def test_other_media_types_and_encodings_are_a_415(client, fleet_token):
    request = metrics_request({"host__name": "app-01"}, gauge_sum_histogram)
    assert post(client, fleet_token, request, encoding="text/plain").status_code == 415
    response = client.post(
        "/v1/metrics",
        data=request.SerializeToString(),
        content_type=PROTOBUF,
        HTTP_CONTENT_ENCODING="br",
        HTTP_AUTHORIZATION=f"Bearer {fleet_token}",
    )
    assert response.status_code == 415


def test_without_a_token_is_a_401_with_a_status(client):
    response = post(client, None, metrics_request({"host__name": "app-01"}, gauge_sum_histogram))
    assert response.status_code == 401
    assert status_of(response).code == 16
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_database_is_a_503_the_sdk_retries(client, fleet_token, unreachable_database):
    request = metrics_request({"host__name": "app-01"}, gauge_sum_histogram)
    assert post(client, fleet_token, request).status_code == 200
    later = metrics_request({"host__name": "app-01"}, lambda m: gauge_sum_histogram(m, now_ns() + 1000))
    for path, message in (
        ("/v1/metrics", later),
        ("/v1/logs", logs_request({"host__name": "app-01"}, [{"body": "x"}])),
    ):
        with unreachable_database():
            response = post(client, fleet_token, message, path=path)
        assert response.status_code == 503
        assert response["Retry-After"] == "5"
        assert status_of(response).code == 14


def test_a_disabled_server_is_a_partial_success(client, fleet_token):
    Server.objects.create(hostname="retired", active=False)
    request = metrics_request({"host__name": "retired"}, gauge_sum_histogram)
    live_host = request.resource_metrics.add()
    live_host.CopyFrom(metrics_request({"host__name": "app-01"}, gauge_sum_histogram).resource_metrics[0])
    response = post(client, fleet_token, request)
    assert response.status_code == 200
    answer = ExportMetricsServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_data_points == 3
    assert "disabled" in answer.partial_success.error_message
    assert set(Series.objects.values_list("server__hostname", flat=True)) == {"app-01"}
    logs = logs_request({"host__name": "retired"}, [{"time_unix_nano": now_ns(), "body": "x"}])
    response = post(client, fleet_token, logs, path="/v1/logs")
    assert ExportLogsServiceResponse.FromString(response.content).partial_success.rejected_log_records == 1
