"""One JSON line per ingest request in DATA_DIR/logs/ingest.log (seed 000)."""

from __future__ import annotations

import logging
import time

from monitoring import selfmetrics

log = logging.getLogger("ingest.requests")

INGEST_PREFIXES = (
    "/ingest",
    "/api/v1/ingest",
    "/api/logs/stream/",
    "/api/v1/monitoring/events",
    "/api/v1/prom/write",
    "/api/v1/collectd",
    "/v1/metrics",
    "/v1/logs",
)


def route_of(path: str, status: int) -> str:
    """The ingest path a metric is labelled with: variable parts (a service name) and unknown paths left out."""
    if status == 404:
        return "unmatched"
    for prefix in INGEST_PREFIXES:
        if path.startswith(prefix) and prefix.endswith("/"):
            return prefix + "*"
    return path.rstrip("/") or "/"


def log_request(request, *, path: str, status: int, size: int, started: float, remote: str | None) -> None:
    """The ingest.log line of one ingest request, wherever it was served (middleware or fast path)."""
    stats = getattr(request, "ingest_stats", {}) or {}
    seconds = time.perf_counter() - started
    selfmetrics.observe_ingest(route_of(path, status), status, size, seconds, stats)
    log.info(
        "ingest",
        extra={
            "method": "POST",
            "path": path,
            "status": status,
            "bytes": size,
            "duration_ms": round(seconds * 1000, 2),
            "remote": remote,
            **stats,
        },
    )


class IngestRequestLog:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method != "POST" or not request.path.startswith(INGEST_PREFIXES):
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        log_request(
            request,
            path=request.path,
            status=response.status_code,
            size=int(request.headers.get("Content-Length") or 0),
            started=started,
            remote=request.META.get("REMOTE_ADDR"),
        )
        return response
