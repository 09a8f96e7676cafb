"""One JSON line per ingest request in DATA_DIR/logs/ingest.log (seed 000)."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("ingest.requests")


def log_request(request, *, path: str, status: int, size: int, started: float, remote: str | None) -> None:
    """The ingest.log line of one ingest request, wherever it was served (middleware or fast path)."""
    stats = getattr(request, "ingest_stats", {}) or {}
    log.info(
        "ingest",
        extra={
            "method": "POST",
            "path": path,
            "status": status,
            "bytes": size,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "remote": remote,
            **stats,
        },
    )


class IngestRequestLog:
    """Django middleware: the log line of the ingest requests Django serves (the routes of ingest/routes.py)."""

    def __init__(self, get_response):
        from ingest.routes import LOGGED_PREFIXES

        self.prefixes = LOGGED_PREFIXES
        self.get_response = get_response

    def __call__(self, request):
        if request.method != "POST" or not request.path.startswith(self.prefixes):
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
