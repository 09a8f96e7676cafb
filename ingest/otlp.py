"""OpenTelemetry OTLP/HTTP: ``POST /v1/metrics`` and ``POST /v1/logs``.

Bodies are ``ExportMetricsServiceRequest`` / ``ExportLogsServiceRequest`` in
protobuf (``application/x-protobuf``, the SDKs' default) or OTLP JSON
(``application/json``: proto3 JSON with hex trace and span ids), gzip-compressed
or not (``Content-Encoding: gzip``, or ``deflate`` as the Python SDK
also offers). The answer is the OTLP response message in
the request's encoding, with ``partial_success`` naming what was not stored;
refusals carry a ``google.rpc.Status`` body, as the OTLP specification asks.

Metrics: the server is the resource's ``host.name`` (a host), else its
``service.name`` (registered as a service); an agent token writes for its own
server. Every point becomes samples of metric_type ``otlp``, labelled with its
attributes (and ``service.name`` when the host names the server):

- gauges and sums: the metric's name; sums and histograms carry a ``temporality``
  label (``cumulative`` or ``delta``);
- histograms: ``NAME_count``, ``NAME_sum``, ``NAME_bucket{le=...}`` (cumulative, as
  Prometheus keeps them), ``NAME_min`` and ``NAME_max`` when sent;
- exponential histograms: ``NAME_count``, ``NAME_sum``, ``NAME_min``, ``NAME_max``
  (their buckets are not kept);
- summaries: ``NAME_count``, ``NAME_sum`` and ``NAME{quantile=...}``.

Points flagged "no recorded value" are skipped. Points with a value that is not
finite, a time more than INGEST_MAX_FUTURE_SECONDS ahead, no value, no server to
write for (or a disabled one), or a name over 247 characters are rejected and counted in
``partial_success`` while the rest is stored.

Logs: each record becomes a log entry of the resource's ``service.name``, on the
server its ``host.name`` names (or the agent's), with the severity mapped to our
levels (TRACE and DEBUG -> DEBUG, ..., FATAL -> CRITICAL), the body as message
(structured bodies as JSON) and the attributes, trace and span ids as metadata.
"""

from __future__ import annotations

import base64
import math
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsPartialSuccess,
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, DataPointFlags

from ingest.base import ingest_endpoint
from ingest.errors import BadInput, Refused
from monitoring import partitions
from monitoring.choices import LogLevel
from monitoring.records import Batch, LogRecord, labels_key
from monitoring.storage import WriteResult
from monitoring.timestamps import EPOCH
from servers.auth import Agent, IngestAuthError
from servers.choices import ServerKind
from servers.registry import server_for

METRIC_TYPE = "otlp"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
NO_RECORDED_VALUE = DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK
TEMPORALITY = {
    AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE: "cumulative",
    AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA: "delta",
}
# OTLP severity numbers 1-24 come in six bands of four: TRACE, DEBUG, INFO, WARN, ERROR, FATAL.
SEVERITY_BANDS = tuple(
    level.value
    for level in (LogLevel.DEBUG, LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARNING, LogLevel.ERROR, LogLevel.CRITICAL)
)
# HTTP status -> gRPC status code, for the google.rpc.Status of a refusal
GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 413: 8, 415: 3, 429: 8, 503: 14}


@dataclass
class OtlpBatch(Batch):
    """A batch that remembers how it came (to answer in kind) and what it could not store."""

    encoding: str = PROTOBUF
    rejected: int = 0
    problems: list[str] = field(default_factory=list)

    def reject(self, count: int, problem: str) -> None:
        self.rejected += count
        if problem not in self.problems and len(self.problems) < 5:
            self.problems.append(problem)


# --- decoding --------------------------------------------------------------------


def encoding_of(request: HttpRequest) -> str:
    """The media type of the request body, as answered in: protobuf or JSON."""
    media = (request.headers.get("Content-Type") or "").partition(";")[0].strip().lower()
    return JSON if media == JSON else PROTOBUF


def decode(request: HttpRequest, body: bytes, message: Message) -> str:
    """Fill ``message`` from the body; answers the encoding. 415/413/400 for what can't be read."""
    media = (request.headers.get("Content-Type") or "").partition(";")[0].strip().lower()
    if media not in (PROTOBUF, JSON):
        raise Refused(415, f"Content-Type {media or 'missing'!r} not supported: send {PROTOBUF} or {JSON}")
    raw = _uncompress(body, (request.headers.get("Content-Encoding") or "identity").strip().lower())
    if media == PROTOBUF:
        try:
            message.ParseFromString(raw)
        except DecodeError as exc:
            raise BadInput("", f"not a protobuf {message.DESCRIPTOR.name}: {exc}")
        return PROTOBUF
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadInput("", f"malformed JSON ({exc})")
    if type(data) is not dict:
        raise BadInput("", f"expected a JSON object ({message.DESCRIPTOR.name})")
    try:
        json_format.ParseDict(_hex_ids_to_base64(data, ""), message, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise BadInput("", f"not an OTLP JSON {message.DESCRIPTOR.name}: {exc}")
    return JSON


def _uncompress(body: bytes, encoding: str) -> bytes:
    if encoding in ("identity", ""):
        return body
    if encoding not in ("gzip", "deflate"):
        raise Refused(415, f"Content-Encoding {encoding!r} not supported: send gzip, deflate or nothing")
    limit = settings.RECEIVER_MAX_DECOMPRESSED_BYTES
    # gzip, or deflate in its zlib wrapper (what the Python SDK sends); 32 lets zlib read either header
    inflater = zlib.decompressobj(wbits=32 + zlib.MAX_WBITS)
    try:
        raw = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BadInput("", f"body is not {encoding}: {exc}")
    if len(raw) > limit:
        raise Refused(413, f"body expands to over {limit} bytes")
    if not inflater.eof:
        raise BadInput("", "gzip body is truncated")
    return raw


_ID_KEYS = frozenset({"traceId", "spanId", "trace_id", "span_id", "parentSpanId", "parent_span_id"})


def _hex_ids_to_base64(value, path: str):
    """OTLP JSON spells trace and span ids in hex where proto3 JSON expects base64."""
    if type(value) is dict:
        for key, item in value.items():
            if key in _ID_KEYS and type(item) is str:
                try:
                    value[key] = base64.b64encode(bytes.fromhex(item)).decode()
                except ValueError:
                    raise BadInput(f"{path}.{key}".lstrip("."), "must be a hex id")
            elif type(item) in (dict, list):
                _hex_ids_to_base64(item, f"{path}.{key}")
    elif type(value) is list:
        for i, item in enumerate(value):
            if type(item) in (dict, list):
                _hex_ids_to_base64(item, f"{path}[{i}]")
    return value


# --- attributes ------------------------------------------------------------------


def any_value(value) -> object:
    """An OTLP AnyValue as plain Python (JSON-ready)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        number = value.double_value
        return number if math.isfinite(number) else str(number)
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return None


def label_text(value) -> str:
    """An attribute value as a label: strings as they are, the rest in JSON."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "int_value":
        return str(value.int_value)
    return orjson.dumps(any_value(value)).decode()


def attributes(key_values) -> dict:
    return {kv.key: any_value(kv.value) for kv in key_values}


def resource_names(resource) -> tuple[str, str]:
    """(host.name, service.name) of a resource, '' where absent."""
    host = service = ""
    for kv in resource.attributes:
        if kv.key == "host.name":
            host = label_text(kv.value)
        elif kv.key == "service.name":
            service = label_text(kv.value)
    return host[:255], service[:255]


class Clock:
    """Nanosecond times of one request, memoized and bounded in the future."""

    def __init__(self):
        self.now = datetime.now(UTC)
        self.latest_ns = int((self.now.timestamp() + settings.INGEST_MAX_FUTURE_SECONDS) * 1e9)
        self.earliest_ns = int(partitions.oldest_writable(self.now).timestamp() * 1e9)
        self._seen: dict[int, datetime] = {}
        # a point without its own time was taken as now: the body's digest cannot name a retry
        self.defaulted = False

    def at(self, ns: int) -> datetime | None:
        """The time of ``ns`` (now when 0); None when it is too far ahead or past the raw retention."""
        if ns == 0:
            self.defaulted = True
            return self.now
        if ns > self.latest_ns or ns < self.earliest_ns:
            return None
        found = self._seen.get(ns)
        if found is None:
            found = self._seen[ns] = EPOCH + timedelta(microseconds=ns // 1000)
        return found


def bound_text(bound: float) -> str:
    """A bucket bound as Prometheus writes ``le``: 0.5, 10, +Inf."""
    if math.isinf(bound):
        return "+Inf" if bound > 0 else "-Inf"
    if bound == int(bound) and abs(bound) < 1e15:
        return str(int(bound))
    return repr(bound)


OUT_OF_BOUNDS = "time more than INGEST_MAX_FUTURE_SECONDS ahead or older than RAW_RETENTION_DAYS"


# --- metrics ---------------------------------------------------------------------


def adapt_metrics(request: HttpRequest, agent: Agent, body: bytes) -> OtlpBatch:
    export = ExportMetricsServiceRequest()
    batch = OtlpBatch(encoding=decode(request, body, export))
    clock = Clock()
    for r, resource_metrics in enumerate(export.resource_metrics):
        MetricsReader(agent, batch, clock, resource_metrics.resource, f"resource_metrics[{r}]").read(resource_metrics)
    batch.timestamped = not clock.defaulted
    return batch


class MetricsReader:
    """Turns the metrics of one resource into samples of one server."""

    def __init__(self, agent: Agent, batch: OtlpBatch, clock: Clock, resource, path: str):
        self.batch = batch
        self.clock = clock
        self.base_labels: dict[str, str] = {}
        self.refusal = "no host.name or service.name resource attribute to name the server"
        self.server_id: str | None = None
        host, service = resource_names(resource)
        if service and (agent.server_id is not None or host):
            self.base_labels["service.name"] = service
        try:
            if agent.server_id is not None:
                self.server_id = str(agent.server_id)
            elif host:
                self.server_id = server_for(agent, hostname=host, field=f"{path}.resource.attributes.host.name")
            elif service:
                self.server_id = server_for(
                    agent, hostname=service, kind=ServerKind.SERVICE, field=f"{path}.resource.attributes.service.name"
                )
        except IngestAuthError as exc:  # e.g. a disabled server: rejected, the other resources stored
            self.refusal = exc.detail

    def read(self, resource_metrics) -> None:
        latest = None
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                latest = self.metric(metric, latest)
        if latest is not None and self.server_id is not None:  # a point was kept: the server is known
            seen = self.batch.seen
            if self.server_id not in seen or seen[self.server_id] < latest:
                seen[self.server_id] = latest

    def metric(self, metric, latest: datetime | None) -> datetime | None:
        kind = metric.WhichOneof("data")
        if kind is None:
            return latest
        data = getattr(metric, kind)
        points = data.data_points
        if self.server_id is None:
            self.batch.reject(len(points), self.refusal)
            return latest
        if len(metric.name) + 8 > 255 or not metric.name:
            self.batch.reject(len(points), f"metric name {metric.name[:40]!r} is empty or over 247 characters")
            return latest
        extra = {}
        if kind in ("sum", "histogram", "exponential_histogram"):
            extra["temporality"] = TEMPORALITY.get(data.aggregation_temporality, "unspecified")
        for point in points:
            if point.flags & NO_RECORDED_VALUE:
                continue
            ts = self.clock.at(point.time_unix_nano)
            if ts is None:
                self.batch.reject(1, OUT_OF_BOUNDS)
                continue
            labels = {**self.base_labels, **extra, **{kv.key: label_text(kv.value) for kv in point.attributes}}
            values = getattr(self, kind)(metric.name, point, labels)
            if values is None:
                self.batch.reject(1, "a point without a value")
                continue
            if any(v - v != 0.0 for _, _, v in values):
                self.batch.reject(1, "a value that is not finite (NaN or infinite)")
                continue
            for name, point_labels, value in values:
                self.batch.samples.append(((self.server_id, METRIC_TYPE, name, labels_key(point_labels)), ts, value))
            if latest is None or latest < ts:
                latest = ts
        return latest

    def gauge(self, name: str, point, labels: dict) -> list | None:
        which = point.WhichOneof("value")
        if which is None:
            return None
        return [(name, labels, float(point.as_double if which == "as_double" else point.as_int))]

    sum = gauge

    def histogram(self, name: str, point, labels: dict) -> list:
        values = [(f"{name}_count", labels, float(point.count))]
        if point.HasField("sum"):
            values.append((f"{name}_sum", labels, point.sum))
        running = 0
        bounds = list(point.explicit_bounds) + [math.inf]
        for bound, count in zip(bounds, point.bucket_counts, strict=False):
            running += count
            values.append((f"{name}_bucket", {**labels, "le": bound_text(bound)}, float(running)))
        return values + self._min_max(name, point, labels)

    def exponential_histogram(self, name: str, point, labels: dict) -> list:
        values = [(f"{name}_count", labels, float(point.count))]
        if point.HasField("sum"):
            values.append((f"{name}_sum", labels, point.sum))
        return values + self._min_max(name, point, labels)

    def summary(self, name: str, point, labels: dict) -> list:
        values = [(f"{name}_count", labels, float(point.count)), (f"{name}_sum", labels, point.sum)]
        for quantile in point.quantile_values:
            values.append((name, {**labels, "quantile": repr(quantile.quantile)}, quantile.value))
        return values

    @staticmethod
    def _min_max(name: str, point, labels: dict) -> list:
        values = []
        if point.HasField("min"):
            values.append((f"{name}_min", labels, point.min))
        if point.HasField("max"):
            values.append((f"{name}_max", labels, point.max))
        return values


def respond_metrics(batch: OtlpBatch, result: WriteResult) -> HttpResponse:
    response = ExportMetricsServiceResponse()
    if batch.rejected:
        response.partial_success.CopyFrom(
            ExportMetricsPartialSuccess(rejected_data_points=batch.rejected, error_message="; ".join(batch.problems))
        )
    return encode(response, batch.encoding, 200)


# --- logs ------------------------------------------------------------------------


def level_of(record) -> str:
    number = record.severity_number
    if 1 <= number <= 24:
        return SEVERITY_BANDS[(number - 1) // 4]
    return LogLevel.normalize(record.severity_text) or LogLevel.INFO.value


def message_of(body) -> str:
    value = any_value(body)
    if value is None:
        return ""
    if type(value) is str:
        return value
    return orjson.dumps(value).decode()


def adapt_logs(request: HttpRequest, agent: Agent, body: bytes) -> OtlpBatch:
    export = ExportLogsServiceRequest()
    batch = OtlpBatch(encoding=decode(request, body, export))
    clock = Clock()
    for r, resource_logs in enumerate(export.resource_logs):
        host, service = resource_names(resource_logs.resource)
        server_id = None  # without host.name: a service's logs, on no particular server
        if agent.server_id is not None:
            server_id = str(agent.server_id)
        elif host:
            try:
                server_id = server_for(agent, hostname=host, field=f"resource_logs[{r}].resource.attributes.host.name")
            except IngestAuthError as exc:  # e.g. a disabled server: rejected, the other resources stored
                batch.reject(sum(len(s.log_records) for s in resource_logs.scope_logs), exc.detail)
                continue
        service = service or host or "unknown"
        for scope_logs in resource_logs.scope_logs:
            scope = scope_logs.scope.name
            for record in scope_logs.log_records:
                ts = clock.at(record.time_unix_nano or record.observed_time_unix_nano)
                if ts is None:
                    batch.reject(1, OUT_OF_BOUNDS)
                    continue
                metadata = attributes(record.attributes)
                if record.trace_id:
                    metadata["trace_id"] = record.trace_id.hex()
                if record.span_id:
                    metadata["span_id"] = record.span_id.hex()
                if record.severity_text:
                    metadata.setdefault("severity_text", record.severity_text)
                if scope:
                    metadata.setdefault("otel.scope.name", scope)
                batch.logs.append(
                    LogRecord(ts, server_id, service, level_of(record), message_of(record.body), metadata, "otlp")
                )
                if server_id is not None and (server_id not in batch.seen or batch.seen[server_id] < ts):
                    batch.seen[server_id] = ts
    batch.timestamped = not clock.defaulted
    return batch


def respond_logs(batch: OtlpBatch, result: WriteResult) -> HttpResponse:
    response = ExportLogsServiceResponse()
    if batch.rejected:
        response.partial_success.CopyFrom(
            ExportLogsPartialSuccess(rejected_log_records=batch.rejected, error_message="; ".join(batch.problems))
        )
    return encode(response, batch.encoding, 200)


# --- answers ---------------------------------------------------------------------


def encode(message: Message, encoding: str, status: int, headers: dict | None = None) -> HttpResponse:
    if encoding == JSON:
        content = orjson.dumps(json_format.MessageToDict(message))
    else:
        content = message.SerializeToString()
    response = HttpResponse(content, status=status, content_type=encoding)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def refuse(request: HttpRequest, status: int, detail: str, errors: list | None, headers: dict | None) -> HttpResponse:
    """A refusal as OTLP clients read it: a google.rpc.Status in the request's encoding."""
    message = status_pb2.Status(code=GRPC_CODES.get(status, 2), message=detail)
    return encode(message, encoding_of(request), status, headers)


_options: dict[str, Any] = {
    "refuse": refuse,
    "status": 200,
    "rate_limit_setting": "RECEIVER_RATE_LIMIT_PER_MINUTE",
    "throttle_status": 503,
    "live_setting": "RECEIVER_LIVE",
}
receive_metrics = ingest_endpoint(adapt_metrics, respond=respond_metrics, **_options)
receive_logs = ingest_endpoint(adapt_logs, respond=respond_logs, **_options)
