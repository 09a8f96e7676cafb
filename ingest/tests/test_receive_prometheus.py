"""Prometheus pushes samples with remote_write 1.0 to /api/v1/prom/write."""

import math
import struct
import time
from datetime import UTC, datetime

import cramjam
import pytest
from django.db import connection

from ingest.proto.remote_pb2 import WriteRequest
from ingest.proto.types_pb2 import MetricMetadata
from monitoring.models import Sample, Series
from servers.models import AgentToken, Server

pytestmark = pytest.mark.django_db

PATH = "/api/v1/prom/write"
STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]


def _snappy(raw: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(raw))


def write_request(series: list[tuple[dict, list[tuple[float, int]]]], metadata=()) -> WriteRequest:
    """A WriteRequest as Prometheus builds it: labels sorted by name, samples (value, ms)."""
    write = WriteRequest()
    for labels, samples in series:
        ts = write.timeseries.add()
        for name in sorted(labels):
            ts.labels.add(name=name, value=labels[name])
        for value, ms in samples:
            ts.samples.add(value=value, timestamp=ms)
    for meta in metadata:
        write.metadata.add(**meta)
    return write


def push(client, token, body: bytes, **headers):
    extra = {
        "HTTP_CONTENT_ENCODING": "snappy",
        "HTTP_X_PROMETHEUS_REMOTE_WRITE_VERSION": "0.1.0",
        "HTTP_USER_AGENT": "Prometheus/2.53.0",
    }
    if token:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    extra.update(headers)
    content_type = extra.pop("content_type", "application/x-protobuf")
    return client.post(PATH, data=body, content_type=content_type, **extra)


def body_of(write: WriteRequest) -> bytes:
    return _snappy(write.SerializeToString())


def now_ms() -> int:
    return int(time.time() * 1000)


def test_fleet_prometheus_registers_the_instance_and_stores_its_series(client, fleet_token):
    ms = now_ms()
    write = write_request(
        [
            ({"__name__": "node_load1", "instance": "web-02:9100", "job": "node"}, [(0.42, ms)]),
            (
                {
                    "__name__": "node_cpu_seconds_total",
                    "instance": "web-02:9100",
                    "job": "node",
                    "cpu": "0",
                    "mode": "idle",
                },
                [(1234.5, ms - 15000), (1249.5, ms)],
            ),
        ]
    )
    response = push(client, fleet_token, body_of(write))
    assert response.status_code == 204
    server = Server.objects.get(hostname="web-02")
    load = Series.objects.get(server=server, metric_type="prometheus", name="node_load1")
    assert load.labels == {"instance": "web-02:9100", "job": "node"}
    sample = Sample.objects.get(series=load)
    assert sample.value == 0.42
    assert sample.ts == datetime.fromtimestamp(ms / 1000, UTC)
    cpu = Series.objects.get(server=server, name="node_cpu_seconds_total")
    assert cpu.labels["mode"] == "idle"
    assert [s.value for s in Sample.objects.filter(series=cpu).order_by("ts")] == [1234.5, 1249.5]
    server.refresh_from_db()
    assert server.last_seen == sample.ts


def test_an_agent_tokens_prometheus_writes_for_its_own_server(client, agent_token, web01):
    write = write_request([({"__name__": "up", "instance": "elsewhere:9100", "job": "node"}, [(1, now_ms())])])
    assert push(client, agent_token, body_of(write)).status_code == 204
    assert Series.objects.get(name="up").server_id == web01.id
    assert not Server.objects.filter(hostname="elsewhere").exists()


def test_the_server_label_is_configurable(client, fleet_token, settings):
    settings.PROM_SERVER_LABEL = "host"
    write = write_request(
        [({"__name__": "up", "host": "db-07", "instance": "10.0.0.7:9100", "job": "node"}, [(1, now_ms())])]
    )
    assert push(client, fleet_token, body_of(write)).status_code == 204
    assert Series.objects.get(name="up").server.hostname == "db-07"


def test_a_series_with_only_a_job_is_kept_under_the_job(client, fleet_token):
    write = write_request([({"__name__": "batch_last_success", "job": "backup"}, [(1, now_ms())])])
    assert push(client, fleet_token, body_of(write)).status_code == 204
    assert Series.objects.get(name="batch_last_success").server.hostname == "backup"


def test_staleness_markers_and_nan_are_accepted_and_not_stored(client, fleet_token):
    ms = now_ms()
    write = write_request(
        [
            ({"__name__": "gone", "instance": "web-02:9100"}, [(STALE_NAN, ms)]),
            ({"__name__": "ratio", "instance": "web-02:9100"}, [(math.nan, ms - 1000), (0.5, ms)]),
            ({"__name__": "huge", "instance": "web-02:9100"}, [(math.inf, ms)]),
        ]
    )
    assert push(client, fleet_token, body_of(write)).status_code == 204
    assert [s.value for s in Sample.objects.all()] == [0.5]


def test_a_metadata_only_request_is_accepted(client, fleet_token):
    write = write_request(
        [],
        metadata=[{"type": MetricMetadata.COUNTER, "metric_family_name": "http_requests_total", "help": "Requests."}],
    )
    assert push(client, fleet_token, body_of(write)).status_code == 204
    assert Sample.objects.count() == 0


def test_a_retried_request_is_stored_once(client, fleet_token):
    body = body_of(write_request([({"__name__": "up", "instance": "web-02:9100"}, [(1, now_ms())])]))
    assert push(client, fleet_token, body).status_code == 204
    assert push(client, fleet_token, body).status_code == 204
    assert Sample.objects.count() == 1


def test_hundreds_of_series_cost_the_same_queries_as_a_few(client, fleet_token, django_assert_max_num_queries):
    def request(n: int, ms: int) -> bytes:
        return body_of(
            write_request(
                [
                    ({"__name__": f"metric_{i}", "instance": "web-02:9100", "job": "node", "i": str(i)}, [(i, ms)])
                    for i in range(n)
                ]
            )
        )

    ms = now_ms()
    push(client, fleet_token, request(5, ms - 2000))  # registers the server, warms the caches
    connection.queries_log.clear()
    with django_assert_max_num_queries(8) as few:
        assert push(client, fleet_token, request(5, ms - 1000)).status_code == 204
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert push(client, fleet_token, request(500, ms)).status_code == 204
    assert Sample.objects.count() == 510


def test_an_unknown_token_is_refused(client):
    body = body_of(write_request([({"__name__": "up", "instance": "web-02:9100"}, [(1, now_ms())])]))
    response = push(client, "mcf_not-a-token", body)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert push(client, None, body).status_code == 401


def test_a_persons_token_cannot_write(client, bob_token):
    body = body_of(write_request([({"__name__": "up", "instance": "web-02:9100"}, [(1, now_ms())])]))
    assert push(client, bob_token, body).status_code == 403


def test_an_agent_token_cannot_register_other_servers_via_a_fleet_only_path(client, db):
    # an agent token of a server writes for that server whatever the labels say; no registration
    server = Server.objects.create(hostname="solo")
    token = AgentToken.issue("agent", server=server)[1]
    body = body_of(write_request([({"__name__": "up", "instance": "other:9100"}, [(1, now_ms())])]))
    assert push(client, token, body).status_code == 204
    assert list(Server.objects.values_list("hostname", flat=True)) == ["solo"]


def test_a_body_that_is_not_snappy_is_a_400(client, fleet_token):
    response = push(client, fleet_token, b"\xff\xff\xff\xff\xff\xffnot snappy at all")
    assert response.status_code == 400
    assert "snappy" in response.json()["detail"]


def test_snappy_that_does_not_hold_a_write_request_is_a_400(client, fleet_token):
    response = push(client, fleet_token, _snappy(b"\x0a\xff\xff\xff\xff\x0fgarbage"))
    assert response.status_code == 400
    assert "WriteRequest" in response.json()["detail"]


def test_a_series_without_a_name_is_a_400(client, fleet_token):
    response = push(client, fleet_token, body_of(write_request([({"instance": "web-02:9100"}, [(1, now_ms())])])))
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "timeseries[0].labels"


def test_other_media_types_are_a_415(client, fleet_token):
    body = body_of(write_request([({"__name__": "up", "instance": "web-02:9100"}, [(1, now_ms())])]))
    assert push(client, fleet_token, body, content_type="application/json").status_code == 415
    assert push(client, fleet_token, body, HTTP_CONTENT_ENCODING="gzip").status_code == 415
    v2 = "application/x-protobuf;proto=io.prometheus.write.v2.Request"
    assert push(client, fleet_token, body, content_type=v2).status_code == 415
    v1 = "application/x-protobuf;proto=prometheus.WriteRequest"
    assert push(client, fleet_token, body, content_type=v1).status_code == 204


def test_a_body_that_expands_past_the_limit_is_a_413(client, fleet_token, settings):
    settings.RECEIVER_MAX_DECOMPRESSED_BYTES = 1000
    body = body_of(write_request([({"__name__": "x" * 200, "instance": f"h{i}"}, [(1, now_ms())]) for i in range(20)]))
    assert push(client, fleet_token, body).status_code == 413
    assert Sample.objects.count() == 0


def test_get_is_not_allowed_and_no_slash_redirect(client, fleet_token):
    assert client.get(PATH).status_code == 405
    assert client.post(PATH + "/", data=b"", content_type="application/x-protobuf").status_code == 404


def test_over_the_request_limit_is_a_503_with_retry_after(client, fleet_token, settings):
    settings.RECEIVER_RATE_LIMIT_PER_MINUTE = 1
    body = body_of(write_request([({"__name__": "up", "instance": "web-02:9100"}, [(1, now_ms())])]))
    assert push(client, fleet_token, body).status_code == 204
    response = push(client, fleet_token, body)
    assert response.status_code == 503
    assert int(response["Retry-After"]) >= 1


@pytest.mark.django_db(transaction=True)
def test_a_database_that_is_unreachable_is_a_503_with_retry_after(client, fleet_token, unreachable_database):
    body = body_of(write_request([({"__name__": "up", "instance": "web-02:9100"}, [(1, now_ms())])]))
    assert push(client, fleet_token, body).status_code == 204  # token and server now cached
    body = body_of(write_request([({"__name__": "up", "instance": "web-02:9100"}, [(1, now_ms() + 1)])]))
    with unreachable_database():
        response = push(client, fleet_token, body)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert push(client, fleet_token, body).status_code == 204  # the retry lands
    # (samples live in unmanaged partitions that transactional tests do not flush: count this server's)
    assert Sample.objects.filter(series__server__hostname="web-02").count() == 2


@pytest.mark.parametrize("live_on", [True, False])
def test_live_views_see_remote_writes_unless_turned_off(client, fleet_token, settings, live_on):
    import asyncio

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from monitoring.live import publisher as publishing

    settings.RECEIVER_LIVE = live_on
    publishing.publisher._down_until = 0.0  # an earlier test's Redis outage must not leave the publisher backing off
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("metrics", channel)
    try:
        body = body_of(write_request([({"__name__": "up", "instance": "web-02:9100"}, [(1, now_ms())])]))
        assert push(client, fleet_token, body).status_code == 204
        assert publishing.publisher.drain()

        async def receive():
            try:
                return await asyncio.wait_for(layer.receive(channel), 1)
            except TimeoutError:
                return None

        message = async_to_sync(receive)()
    finally:
        async_to_sync(layer.group_discard)("metrics", channel)
    if live_on:
        assert message is not None and message["kind"] == "metrics"
    else:
        assert message is None


def test_a_disabled_servers_series_are_skipped_and_the_rest_stored(client, fleet_token):
    Server.objects.create(hostname="retired", active=False)
    ms = now_ms()
    write = write_request(
        [
            ({"__name__": "up", "instance": "retired:9100", "job": "node"}, [(1, ms)]),
            ({"__name__": "up", "instance": "web-02:9100", "job": "node"}, [(1, ms)]),
        ]
    )
    assert push(client, fleet_token, body_of(write)).status_code == 204
    assert list(Series.objects.values_list("server__hostname", flat=True)) == ["web-02"]
