"""Real clients push to a real daphne: the OpenTelemetry Python SDK, and Prometheus scraping node_exporter."""

import shutil
import subprocess
import uuid

import pytest

from bench.harness import free_port
from config.tests.fixtures import wait_until
from monitoring.models import LogEntry, Sample, Series
from servers.models import Server

pytestmark = pytest.mark.slow


def test_the_opentelemetry_sdk_exports_metrics_and_logs(daphne_console, fleet_token, monkeypatch):
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.metrics import Observation
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    # configured the way the README says: the environment only
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", daphne_console)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer%20{fleet_token}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "gzip")
    host = f"otel-{uuid.uuid4().hex[:8]}"
    resource = Resource.create({"host.name": host, "service.name": "checkout"})

    reader = PeriodicExportingMetricReader(OTLPMetricExporter(), export_interval_millis=3_600_000)
    meters = MeterProvider(resource=resource, metric_readers=[reader])
    meter = meters.get_meter("checkout")
    orders = meter.create_counter("orders", unit="1")
    latency = meter.create_histogram("checkout.duration", unit="ms")
    meter.create_observable_gauge("queue.depth", callbacks=[lambda options: [Observation(7, {"queue": "mail"})]])
    orders.add(3, {"method": "card"})
    latency.record(12.0)
    latency.record(480.0)

    logs = LoggerProvider(resource=resource)
    logs.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter()))
    logger = logs.get_logger("checkout.payments")
    try:
        assert meters.force_flush(timeout_millis=20_000)
        logger.emit(body="payment provider timed out", severity_number=SeverityNumber.ERROR, severity_text="ERROR")
        logger.emit(body="retrying payment", severity_number=SeverityNumber.WARN, attributes={"attempt": 2})
        assert logs.force_flush(timeout_millis=20_000)
    finally:
        meters.shutdown()
        logs.shutdown()

    server = Server.objects.get(hostname=host)
    names = set(Series.objects.filter(server=server, metric_type="otlp").values_list("name", flat=True))
    assert {
        "orders",
        "queue.depth",
        "checkout.duration_count",
        "checkout.duration_sum",
        "checkout.duration_bucket",
    } <= names
    orders_series = Series.objects.get(server=server, name="orders")
    assert orders_series.labels == {"method": "card", "service.name": "checkout", "temporality": "cumulative"}
    assert {s.value for s in Sample.objects.filter(series=orders_series)} == {3}  # flushed, then again at shutdown
    entries = LogEntry.objects.filter(server=server).order_by("level")
    assert [(e.service, e.level, e.message) for e in entries] == [
        ("checkout", "ERROR", "payment provider timed out"),
        ("checkout", "WARNING", "retrying payment"),
    ]


def test_prometheus_remote_writes_what_it_scrapes_from_node_exporter(daphne_console, fleet_token, tmp_path):
    prometheus = shutil.which("prometheus")
    node_exporter = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if not prometheus or not node_exporter:
        pytest.skip(
            "Prometheus and node_exporter are not installed here "
            "(apt-get install prometheus prometheus-node-exporter; CI's .ci/run installs them)"
        )
    node_port, prom_port = free_port(), free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        f"""
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ["127.0.0.1:{node_port}"]
remote_write:
  - url: {daphne_console}/api/v1/prom/write
    authorization:
      credentials: {fleet_token}
    queue_config:
      batch_send_deadline: 1s
      max_samples_per_send: 500
    metadata_config:
      send_interval: 2s
"""
    )
    logs = (tmp_path / "agents.log").open("wb")
    agents = [
        subprocess.Popen(
            [
                node_exporter,
                f"--web.listen-address=127.0.0.1:{node_port}",
                "--collector.disable-defaults",
                "--collector.loadavg",
                "--collector.meminfo",
                "--collector.cpu",
                "--collector.filesystem",
            ],
            stdout=logs,
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                "--log.level=warn",
            ],
            stdout=logs,
            stderr=subprocess.STDOUT,
        ),
    ]
    try:

        def stored():
            return (
                Sample.objects.filter(
                    series__server__hostname="127.0.0.1", series__metric_type="prometheus", series__name="node_load1"
                ).exists()
                and Sample.objects.filter(series__name="up", series__labels__job="node").exists()
            )

        try:
            wait_until(stored, 30, step=0.5, what="node_exporter's samples through Prometheus")
        except AssertionError as missing:
            raise AssertionError((tmp_path / "agents.log").read_text()[-3000:]) from missing
    finally:
        for agent in agents:
            agent.terminate()
        for agent in agents:
            try:
                agent.wait(10)
            except subprocess.TimeoutExpired:
                agent.kill()
        logs.close()
    server = Server.objects.get(hostname="127.0.0.1")
    load = Series.objects.get(server=server, name="node_load1")
    assert load.labels == {"instance": f"127.0.0.1:{node_port}", "job": "node"}
    assert Series.objects.filter(server=server, name="node_memory_MemTotal_bytes").exists()
    assert Sample.objects.filter(series__server=server).count() >= 3
