"""Every ingest path, declared once.

Django's URL patterns (ingest/urls.py), the fast path that answers metric
ingest ahead of Django's middleware (ingest/fastpath.py) and the request log's
choice of what to log (ingest/middleware.py) are all read from ``ROUTES``.
ingest/tests/test_ingest_routes.py checks they agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpResponse
from django.urls import URLPattern, path

from ingest import collectd, otlp, prometheus, seed000, seed001, seed002, seed004


@dataclass(frozen=True)
class IngestRoute:
    """One ingest path: ``pattern`` as Django's ``path()`` writes it, without the leading slash."""

    pattern: str
    view: Callable[..., HttpResponse] | None  # None: another app's URLs serve it; it is logged as ingest
    name: str | None = None
    fast: bool = False  # answered by the fast path, ahead of Django (exact paths only)
    trailing_slash: bool = False  # the seeds' agents also post to "<path>/"
    logged: bool = True  # one line per request in DATA_DIR/logs/ingest.log

    @property
    def paths(self) -> tuple[str, ...]:
        """The request paths this route answers (for a route without converters)."""
        exact = "/" + self.pattern
        return (exact, exact + "/") if self.trailing_slash else (exact,)

    @property
    def log_prefix(self) -> str:
        """What a logged request's path starts with: the route up to its first converter."""
        return "/" + self.pattern.split("<", 1)[0]

    def url_patterns(self) -> list[URLPattern]:
        if self.view is None:
            return []
        patterns = [path(self.pattern, self.view, name=self.name)]
        if self.trailing_slash:
            patterns.append(path(self.pattern + "/", self.view))
        return patterns


_STREAM = "api/logs/stream/<str:service_name_in_path>"

ROUTES: tuple[IngestRoute, ...] = (
    # the seeds' agents (000, 001, 002)
    IngestRoute("ingest", seed000.receive, "ingest-seed000", fast=True, trailing_slash=True),
    IngestRoute("api/v1/ingest", seed001.receive, "ingest-seed001", fast=True, trailing_slash=True),
    IngestRoute("ingest/metrics", seed002.receive, "ingest-seed002", fast=True, trailing_slash=True),
    # seed 004's logs; the continuous stream is answered ahead of Django by ingest/streaming.py
    IngestRoute(_STREAM, seed004.stream, "logs-stream"),
    IngestRoute(_STREAM + "/single", seed004.single, "logs-stream-single"),
    IngestRoute(_STREAM + "/continuous", seed004.continuous, "logs-stream-continuous"),
    IngestRoute("api/logs/services/register", seed004.register_service, "logs-services-register", logged=False),
    # the agents people already run: exact paths, no trailing-slash variants
    IngestRoute("api/v1/prom/write", prometheus.receive, "prometheus-remote-write", fast=True),
    IngestRoute("v1/metrics", otlp.receive_metrics, "otlp-metrics", fast=True),
    IngestRoute("v1/logs", otlp.receive_logs, "otlp-logs", fast=True),
    IngestRoute("api/v1/collectd", collectd.receive, "collectd-write-http", fast=True),
    # seed 003's events are monitoring's API (monitoring/api/urls_events.py)
    IngestRoute("api/v1/monitoring/events", None),
)


def url_patterns() -> list[URLPattern]:
    return [pattern for route in ROUTES for pattern in route.url_patterns()]


def fast_paths() -> dict[str, Callable[..., HttpResponse]]:
    """Request path -> view, for the routes the fast path answers."""
    return {p: route.view for route in ROUTES if route.fast and route.view is not None for p in route.paths}


LOGGED_PREFIXES: tuple[str, ...] = tuple(dict.fromkeys(route.log_prefix for route in ROUTES if route.logged))
