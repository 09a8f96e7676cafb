"""One JSON line per ingest request in DATA_DIR/logs/ingest.log (seed 000)."""

from __future__ import annotations

import functools
import logging
import time

import orjson
from django.conf import settings

from monitoring import selfmetrics

log = logging.getLogger("ingest.requests")


@functools.cache
def _logged_prefixes() -> tuple[str, ...]:
    from ingest.routes import LOGGED_PREFIXES  # the views behind the routes need the apps loaded

    return LOGGED_PREFIXES


def route_of(path: str, status: int) -> str:
    """The ingest path a metric is labelled with: variable parts (a service name) and unknown paths left out."""
    if status == 404:
        return "unmatched"
    for prefix in _logged_prefixes():
        if path.startswith(prefix) and prefix.endswith("/"):
            return prefix + "*"
    return path.rstrip("/") or "/"


def payload_fields(body: bytes) -> dict:
    """The request's payload for its log line (INGEST_LOG_PAYLOADS): JSON as JSON, text cut, binary left out."""
    limit = settings.INGEST_LOG_PAYLOAD_BYTES
    if len(body) <= limit:
        try:
            return {"payload": orjson.loads(body)}
        except orjson.JSONDecodeError:
            pass
    head = body[:limit]
    try:
        text = head.decode()
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not a character cut at the limit: a binary body (protobuf, snappy)
            return {"payload_omitted": "binary body"}
        text = head[: exc.start].decode()
    return {"payload": text, "payload_truncated": len(body) > limit}


def log_request(
    request, *, path: str, status: int, size: int, started: float, remote: str | None, body: bytes | None = None
) -> None:
    """The ingest.log line of one ingest request, wherever it was served (middleware or fast path)."""
    stats = getattr(request, "ingest_stats", {}) or {}
    seconds = time.perf_counter() - started
    selfmetrics.observe_ingest(route_of(path, status), status, size, seconds, stats)
    extra = {
        "method": "POST",
        "path": path,
        "status": status,
        "bytes": size,
        "duration_ms": round(seconds * 1000, 2),
        "remote": remote,
        **stats,
    }
    if settings.INGEST_LOG_PAYLOADS and body is not None:
        extra.update(payload_fields(body))
    log.info("ingest", extra=extra)


def _body(request) -> bytes | None:
    """The body the view read, for the payload log; None when it was not read (too large, streamed)."""
    if not settings.INGEST_LOG_PAYLOADS:
        return None
    try:
        return request.body
    except Exception:  # RawPostDataException, RequestDataTooBig: nothing to show
        return None


class IngestRequestLog:
    """Django middleware: the log line of the ingest requests Django serves (the routes of ingest/routes.py)."""

    def __init__(self, get_response):
        self.prefixes = _logged_prefixes()
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
            body=_body(request),
        )
        return response
