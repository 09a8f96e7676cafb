"""The console's own metrics, in Prometheus' text format at GET /metrics (prometheus_client).

Counted in the process that does the work: ingest requests (by path and code,
with their samples, bytes, duplicates and latency), storage write time, HTTP
request latency, open WebSockets, live frames. Read when scraped: Celery queue
depth (Redis), bytes on disk per table family (PostgreSQL), and what other
apps contribute with ``register`` (alerts: evaluation rounds, notifications).

Each web process answers for itself: behind a load balancer, scrape each web
process (docs/prometheus.md). Readable with a person's API token, or from the
addresses in METRICS_ALLOWED_CIDRS (a scraper inside the network).
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

PATH_CODE = ["path", "code"]
INGEST_REQUESTS = Counter(
    "console_ingest_requests", "Ingest requests answered, by path and status code", PATH_CODE, registry=REGISTRY
)
INGEST_SAMPLES = Counter(
    "console_ingest_samples", "Samples stored by ingest requests, by path and code", PATH_CODE, registry=REGISTRY
)
INGEST_BYTES = Counter(
    "console_ingest_bytes", "Bytes of ingest request bodies, by path and code", PATH_CODE, registry=REGISTRY
)
INGEST_DUPLICATES = Counter(
    "console_ingest_duplicate_receipts",
    "Retried ingest requests answered without storing twice",
    ["path"],
    registry=REGISTRY,
)
INGEST_SECONDS = Histogram(
    "console_ingest_request_duration_seconds",
    "Ingest request latency",
    ["path"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "console_http_request_duration_seconds",
    "Latency of HTTP requests served by Django, by route and method",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
WRITE_SECONDS = Histogram(
    "console_storage_write_seconds",
    "Time to store one batch (one transaction)",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
WEBSOCKETS = Gauge("console_websockets_open", "WebSocket connections open in this process", registry=REGISTRY)
# its value is read from ingest's gate when scraped (ingest/gate.py sets the function)
INGEST_INFLIGHT_BYTES = Gauge(
    "console_ingest_inflight_bytes",
    "Bytes of ingest request bodies this process holds at once (bounded by INGEST_MAX_INFLIGHT_BYTES)",
    registry=REGISTRY,
)

# table name prefixes -> family, for bytes on disk
TABLE_FAMILIES = (
    ("monitoring_sample", "samples"),
    ("monitoring_rollup", "rollups"),
    ("monitoring_logentry", "logs"),
    ("monitoring_event", "events"),
    ("monitoring_series", "series"),
    ("alerts_", "alerts"),
)


def observe_ingest(path: str, status: int, size: int, seconds: float, stats: dict) -> None:
    code = str(status)
    INGEST_REQUESTS.labels(path, code).inc()
    INGEST_BYTES.labels(path, code).inc(size)
    if stats.get("samples"):
        INGEST_SAMPLES.labels(path, code).inc(stats["samples"])
    if stats.get("duplicate"):
        INGEST_DUPLICATES.labels(path).inc()
    INGEST_SECONDS.labels(path).observe(seconds)


class _Provided(Collector):
    """Families read when scraped, from the functions apps registered."""

    def __init__(self):
        self.providers: list[Callable[[], Iterable[Metric]]] = []

    def collect(self) -> Iterable[Metric]:
        for provider in list(self.providers):
            try:
                yield from provider()
            except Exception as exc:  # one unavailable source must not hide the others
                log.warning("metrics provider %s failed: %s", getattr(provider, "__name__", provider), exc)


_provided = _Provided()
REGISTRY.register(_provided)


def register(provider: Callable[[], Iterable[Metric]]) -> None:
    """Add a function yielding metric families at each scrape (once per function)."""
    if provider not in _provided.providers:
        _provided.providers.append(provider)


def celery_queue_depth() -> Iterable[Metric]:
    from config import redis_roles

    family = GaugeMetricFamily("console_celery_queue_depth", "Tasks waiting in each Celery queue", labels=["queue"])
    client = redis_roles.client(settings.CELERY_BROKER_URL, settings.REDIS_SENTINEL_MASTER, socket_timeout=2)
    for queue in settings.METRICS_CELERY_QUEUES:
        family.add_metric([queue], client.llen(queue))
    yield family


def disk_bytes() -> Iterable[Metric]:
    family = GaugeMetricFamily(
        "console_disk_bytes",
        "Bytes on disk per table family (partitions, indexes and TOAST included)",
        labels=["family"],
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
            """
        )
        rows = cursor.fetchall()
    totals: dict[str, int] = {}
    for name, size in rows:
        family_name = next((f for prefix, f in TABLE_FAMILIES if name.startswith(prefix)), "other")
        totals[family_name] = totals.get(family_name, 0) + size
    for name, size in sorted(totals.items()):
        family.add_metric([name], size)
    yield family


register(celery_queue_depth)
register(disk_bytes)


def may_read(request: HttpRequest) -> bool:
    """A person's API token, a logged-in person, or a caller from METRICS_ALLOWED_CIDRS."""
    from servers.auth import IngestAuthError, person_token, raw_token

    raw = raw_token(request.headers)
    if raw:
        try:
            person_token(raw)
        except IngestAuthError:
            return False
        return True
    if request.user.is_authenticated:
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR") or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in settings.METRICS_ALLOWED_CIDRS)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics: this process's metrics in Prometheus' text format."""
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET"})
    if not may_read(request):
        return HttpResponse(
            "send a person's API token, or scrape from an address in METRICS_ALLOWED_CIDRS\n",
            status=401,
            content_type="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


class RequestMetrics:
    """Middleware: the latency of each HTTP request by route and method."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None else "unmatched"
        REQUEST_SECONDS.labels(route, request.method).observe(time.perf_counter() - started)
        return response
