"""Seed 004 (LogViewer): services stream their logs.

Three ways in, one record shape (timestamp, level, message, service, metadata):
- ``POST /api/logs/stream/{service}``: ``{"service_name": ..., "logs": [...]}``;
- ``POST /api/logs/stream/{service}/single``: one log object;
- ``POST /api/logs/stream/{service}/continuous``: newline-delimited JSON, stored as
  it arrives (ingest/streaming.py serves it under daphne; ``continuous`` below is
  the same contract for a body that arrives whole).

The service is a Server of kind ``service`` named after the path, registered on
first sight under a fleet token. An agent token writes for its own server, and
its logs keep the service name of the path.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import orjson
from django.conf import settings
from django.http import HttpRequest
from django.views.decorators.csrf import csrf_exempt

from ingest.base import error_response, ingest_endpoint, json_response
from ingest.errors import BadInput
from monitoring import partitions, storage, timestamps
from monitoring.choices import LogLevel
from monitoring.records import Batch, LogRecord
from servers.auth import Agent, IngestAuthError, authenticate_agent
from servers.choices import ServerKind
from servers.registry import server_for
from servers.throttle import rate_limiter

SOURCE = "seed004"
MAX_SERVICE_NAME = 255


def parse_timestamp(raw, field: str, now: datetime, latest: datetime | None = None) -> datetime:
    """An ISO 8601 time (or epoch seconds) as aware UTC; absent means now; after ``latest`` is refused."""
    if raw is None or raw == "":
        return now
    try:
        ts = timestamps.parse_timestamp(raw)  # a boolean is neither text nor a number here
    except timestamps.BadTimestamp as exc:
        raise BadInput(field, str(exc))
    if latest is None:
        latest = now + timedelta(seconds=settings.INGEST_MAX_FUTURE_SECONDS)
    if ts > latest:
        raise BadInput(field, f"more than {settings.INGEST_MAX_FUTURE_SECONDS} s in the future")
    if ts < partitions.oldest_writable(now):
        raise BadInput(field, partitions.retention_problem(ts))
    return ts


def service_name(raw, field: str = "service_name") -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise BadInput(field, "required: a non-empty service name")
    name = raw.strip()
    if len(name) > MAX_SERVICE_NAME or "/" in name:
        raise BadInput(field, f"a service name is at most {MAX_SERVICE_NAME} characters, without '/'")
    return name


def log_record(
    item, *, service: str, server_id, field: str, now: datetime, latest: datetime | None = None
) -> LogRecord:
    """One seed 004 log object as a LogRecord; BadInput names ``field`` and the key at fault.

    ``latest``: the latest time accepted (now + INGEST_MAX_FUTURE_SECONDS), computed once per batch.
    """
    if not isinstance(item, dict):
        raise BadInput(field, "expected an object with timestamp, level, message")
    message = item.get("message")
    if not isinstance(message, str):
        raise BadInput(f"{field}.message", "required: a string")
    level = LogLevel.normalize(item.get("level"))
    if level is None:
        raise BadInput(f"{field}.level", f"unknown level {str(item.get('level'))[:20]!r}; use DEBUG..CRITICAL")
    metadata = item.get("metadata")
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        raise BadInput(f"{field}.metadata", "expected an object")
    own_service = item.get("service")
    if own_service is not None and own_service != "" and own_service != service:
        own_service = service_name(own_service, f"{field}.service")
    return LogRecord(
        ts=parse_timestamp(item.get("timestamp"), f"{field}.timestamp", now, latest),
        server_id=server_id,
        service=own_service or service,
        level=level,
        message=message,
        metadata=metadata,
        source=SOURCE,
    )


def decode(body: bytes):
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadInput("", f"body is not JSON: {exc}")


def service_server(agent: Agent, service: str) -> uuid.UUID:
    return uuid.UUID(server_for(agent, hostname=service, kind=ServerKind.SERVICE, field="service_name"))


def batch_of(records: list[LogRecord], server_id) -> Batch:
    batch = Batch(logs=records)
    if records:
        batch.seen[str(server_id)] = max(r.ts for r in records)
    return batch


def stream_batch(request: HttpRequest, agent: Agent, body: bytes, service_name_in_path: str) -> Batch:
    service = service_name(service_name_in_path)
    payload = decode(body)
    if not isinstance(payload, dict):
        raise BadInput("", "expected an object with service_name and logs")
    named = payload.get("service_name")
    if named not in (None, "") and named != service:
        raise BadInput("service_name", f"{named!r} differs from the service in the path ({service!r})")
    logs = payload.get("logs")
    if not isinstance(logs, list):
        raise BadInput("logs", "required: a list of log objects")
    server_id = service_server(agent, service)
    now = datetime.now(UTC)
    latest = now + timedelta(seconds=settings.INGEST_MAX_FUTURE_SECONDS)
    records = [
        log_record(item, service=service, server_id=server_id, field=f"logs[{i}]", now=now, latest=latest)
        for i, item in enumerate(logs)
    ]
    batch = batch_of(records, server_id)
    batch.timestamped = all(_stamped(item) for item in logs)
    return batch


def _stamped(item) -> bool:
    return item.get("timestamp") not in (None, "")


def stream_single(request: HttpRequest, agent: Agent, body: bytes, service_name_in_path: str) -> Batch:
    service = service_name(service_name_in_path)
    payload = decode(body)
    server_id = service_server(agent, service)
    record = log_record(payload, service=service, server_id=server_id, field="log", now=datetime.now(UTC))
    batch = batch_of([record], server_id)
    batch.timestamped = _stamped(payload)
    return batch


def _accepted(batch: Batch, result: storage.WriteResult) -> dict:
    services = sorted({r.service for r in batch.logs})
    return {
        "status": "accepted" if not result.duplicate else "duplicate",
        "service": services[0] if len(services) == 1 else services,
        "logs_received": len(batch.logs),
        "logs_stored": result.logs,
        "logs_truncated": result.logs_truncated,
    }


stream = ingest_endpoint(stream_batch, respond=_accepted)
single = ingest_endpoint(stream_single, respond=_accepted)


class LineStream:
    """Newline-delimited JSON arriving in chunks: complete lines out, bad lines reported.

    Shared by the raw ASGI app (chunks as they arrive) and the buffered view
    (one chunk). ``feed`` answers the records of the complete lines in a chunk.
    """

    MAX_LINE_BYTES = 1024 * 1024
    MAX_ERRORS_KEPT = 100

    def __init__(self, service: str, server_id):
        self.service = service
        self.server_id = server_id
        self.lines = 0
        self.rejected = 0
        self.errors: list[dict] = []
        self._partial = bytearray()
        self._skipping = False  # inside a line already refused as too long

    def feed(self, chunk: bytes) -> list[LogRecord]:
        records: list[LogRecord] = []
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                break
            piece = chunk[start:end]
            start = end + 1
            if self._skipping:
                self._skipping = False
                self._partial.clear()
                continue
            if self._partial:
                self._partial += piece
                piece = bytes(self._partial)
                self._partial.clear()
            self._line(piece, records)
        rest = chunk[start:]
        if rest and not self._skipping:
            self._partial += rest
            if len(self._partial) > self.MAX_LINE_BYTES:
                self.lines += 1
                self._refuse(f"line {self.lines}", f"longer than {self.MAX_LINE_BYTES} bytes")
                self._partial.clear()
                self._skipping = True
        return records

    def close(self) -> list[LogRecord]:
        """The records of a last line without a newline."""
        records: list[LogRecord] = []
        if self._partial and not self._skipping:
            self._line(bytes(self._partial), records)
        self._partial.clear()
        return records

    def _line(self, raw: bytes, records: list[LogRecord]) -> None:
        if not raw.strip():
            return
        self.lines += 1
        field = f"line {self.lines}"
        try:
            item = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            self._refuse(field, f"not JSON: {exc}")
            return
        try:
            records.append(
                log_record(item, service=self.service, server_id=self.server_id, field=field, now=datetime.now(UTC))
            )
        except BadInput as exc:
            self._refuse(exc.field, exc.message)

    def _refuse(self, field: str, message: str) -> None:
        self.rejected += 1
        if len(self.errors) < self.MAX_ERRORS_KEPT:
            self.errors.append({"field": field, "message": message})

    def summary(self, stored: int, batches: int, truncated: int = 0) -> dict:
        return {
            "status": "completed",
            "service": self.service,
            "lines_received": self.lines,
            "logs_stored": stored,
            "logs_truncated": truncated,
            "lines_rejected": self.rejected,
            "batches": batches,
            "errors": self.errors,
        }


def store_lines(records: list[LogRecord], server_id) -> storage.WriteResult:
    """Write one flush of a stream (its own transaction) and publish it."""
    from monitoring.live.publisher import publish_write

    batch = batch_of(records, server_id)
    result = storage.write(batch)
    publish_write(batch, result)
    return result


@csrf_exempt
def continuous(request: HttpRequest, service_name_in_path: str):
    """The continuous contract for a body Django has already buffered (WSGI, test client).

    Under daphne, ingest/streaming.py answers this path before Django and stores
    lines while the request is still arriving.
    """
    if request.method != "POST":
        return error_response(405, "method not allowed; POST newline-delimited JSON", headers={"Allow": "POST"})
    try:
        agent = authenticate_agent(request.headers)
        service = service_name(service_name_in_path)
        server_id = service_server(agent, service)
    except IngestAuthError as exc:
        return error_response(exc.status, exc.detail)
    except BadInput as exc:
        return error_response(400, f"invalid payload: {exc}", errors=[exc.as_dict()])
    lines = LineStream(service, server_id)
    records = lines.feed(request.body) + lines.close()
    result = store_lines(records, server_id) if records else storage.WriteResult()
    return json_response(lines.summary(result.logs, 1 if records else 0, result.logs_truncated))


@csrf_exempt
def register_service(request: HttpRequest):
    """POST /api/logs/services/register: a fleet token registers a service (a Server of kind service).

    Body: ``{"service_name": ..., "environment": ..., "owner_team": ..., "labels": {...}}``.
    201 when created, 200 when it already existed (its fields are left as they were).
    """
    from servers.models import Server

    if request.method != "POST":
        return error_response(405, "method not allowed", headers={"Allow": "POST"})
    try:
        agent = authenticate_agent(request.headers)
        if not agent.may_register:
            raise IngestAuthError(403, "only a fleet token may register services")
        wait = rate_limiter.retry_after(agent.key)
        if wait is not None:
            detail = f"over {settings.AGENT_RATE_LIMIT_PER_MINUTE} requests a minute for this agent"
            return error_response(429, f"{detail} (AGENT_RATE_LIMIT_PER_MINUTE)", headers={"Retry-After": str(wait)})
        payload = decode(request.body)
        if not isinstance(payload, dict):
            raise BadInput("", "expected an object with service_name")
        name = service_name(payload.get("service_name") or payload.get("name"))
        fields: dict[str, object] = {"kind": ServerKind.SERVICE}
        for key in ("environment", "owner_team"):
            value = payload.get(key)
            if value is not None and not isinstance(value, str):
                raise BadInput(key, "expected a string")
            if value:
                fields[key] = value[:64] if key == "environment" else value[:128]
        labels = payload.get("labels", payload.get("metadata"))
        if labels is not None:
            if not isinstance(labels, dict):
                raise BadInput("labels", "expected an object")
            fields["labels"] = labels
    except IngestAuthError as exc:
        return error_response(exc.status, exc.detail)
    except BadInput as exc:
        return error_response(400, f"invalid payload: {exc}", errors=[exc.as_dict()])
    server, created = Server.objects.get_or_create(hostname=name, defaults=fields)
    body = {"service_name": server.hostname, "id": str(server.id), "kind": server.kind, "registered": created}
    return json_response(body, status=201 if created else 200)
