"""POST /api/logs/stream/{service}/continuous as a raw ASGI app, ahead of Django.

Django's ASGI handler reads the whole body before it calls a view, so a long
request streaming newline-delimited JSON would store nothing until it ends.
This app reads ``http.request`` chunks as they come, stores complete lines in
batches (every ``FLUSH_LINES`` lines or ``FLUSH_SECONDS``, whichever is first,
each batch its own transaction) and answers with counts when the body ends.
A bad line is reported in the answer; the stream goes on.

The app stores chunks as the ASGI server delivers them. daphne (Twisted) would
deliver a request body only once all of it has arrived; ingest/daphne_streaming.py
makes it deliver this path's body as it arrives, as uvicorn and hypercorn do.

Every other request goes to the wrapped application (Django).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from urllib.parse import unquote

import orjson
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError

from config.errors import error_body
from ingest.base import rate_limiter
from ingest.errors import BadInput
from ingest.seed004 import LineStream, service_name, service_server, store_lines
from monitoring import partitions, storage
from servers.auth import IngestAuthError, authenticate_agent

log = logging.getLogger(__name__)

PATH = re.compile(r"^/api/logs/stream/(?P<service>[^/]+)/continuous/?$")
FLUSH_LINES = 500
FLUSH_SECONDS = 1.0


class Headers(dict):
    """ASGI headers as the mapping servers.auth.raw_token reads (lower-case names)."""

    @classmethod
    def of(cls, scope) -> Headers:
        return cls((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope.get("headers", []))


async def _answer(send, status: int, body: dict, headers: dict | None = None) -> None:
    raw = orjson.dumps(body)
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    head += [(k.encode(), str(v).encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": raw})


def _open_stream(headers: Headers, service_in_path: str) -> tuple[str, str, uuid.UUID]:
    """Authenticate and resolve the service's server: (agent key, service, server id)."""
    agent = authenticate_agent(headers)
    service = service_name(service_in_path)
    server_id = service_server(agent, service)
    return agent.identity([server_id]), service, server_id


async def continuous_logs(scope, receive, send, service_in_path: str) -> None:
    if scope["method"] != "POST":
        await _answer(send, 405, error_body("method not allowed; POST newline-delimited JSON"), {"Allow": "POST"})
        return
    headers = Headers.of(scope)
    try:
        agent_key, service, server_id = await database_sync_to_async(_open_stream)(headers, service_in_path)
    except IngestAuthError as exc:
        extra = {"WWW-Authenticate": 'Bearer realm="ingest"'} if exc.status == 401 else None
        await _answer(send, exc.status, error_body(exc.detail), extra)
        return
    except BadInput as exc:
        await _answer(send, 400, error_body(f"invalid payload: {exc}", [exc.as_dict()]))
        return
    except (OperationalError, InterfaceError):
        await _answer(send, 503, error_body("storage is unavailable, retry later"), {"Retry-After": "5"})
        return
    wait = await sync_to_async(rate_limiter.retry_after, thread_sensitive=False)(agent_key)
    if wait is not None:
        detail = f"over {settings.AGENT_RATE_LIMIT_PER_MINUTE} requests a minute for this agent"
        await _answer(send, 429, error_body(detail), {"Retry-After": str(wait)})
        return

    lines = LineStream(service, server_id)
    write = database_sync_to_async(store_lines)
    pending: list = []
    stored = batches = truncated = 0
    failure: str | None = None
    last_flush = time.monotonic()

    async def flush(records: list) -> None:
        nonlocal stored, batches, truncated, failure, last_flush
        last_flush = time.monotonic()
        if not records or failure:
            return
        try:
            result = await write(records, server_id)
            stored += result.logs
            truncated += result.logs_truncated
            batches += 1
        except (DatabaseError, storage.StorageUnavailable, storage.StorageRefused, partitions.TooManyNewDays) as exc:
            log.warning("continuous log stream for %s stopped storing: %s", service, exc)
            failure = str(exc).splitlines()[0] if str(exc) else type(exc).__name__

    received = 0
    last_byte = time.monotonic()
    cut: tuple[int, str] | None = None  # (status, reason) when the stream is ended here, not by the agent
    while failure is None:  # at the first storage failure: answer now, the rest is never read
        now = time.monotonic()
        idle_left = settings.INGEST_STREAM_IDLE_SECONDS - (now - last_byte)
        if idle_left <= 0:
            await flush(pending)
            cut = (408, f"no data for {settings.INGEST_STREAM_IDLE_SECONDS} s (INGEST_STREAM_IDLE_SECONDS)")
            break
        timeout = max(0.01, min(idle_left, FLUSH_SECONDS - (now - last_flush)))
        try:
            message = await asyncio.wait_for(receive(), timeout=timeout)
        except TimeoutError:
            # a quiet stream still gets what it sent stored within a second
            await flush(pending)
            pending = []
            continue
        if message["type"] == "http.disconnect":
            await flush(pending + lines.close())
            return
        chunk = message.get("body", b"")
        more = message.get("more_body", False)
        if chunk:
            last_byte = time.monotonic()
            received += len(chunk)
            if received > settings.INGEST_STREAM_MAX_BYTES:  # keep what fits; a line cut in two is dropped
                chunk = chunk[: len(chunk) - (received - settings.INGEST_STREAM_MAX_BYTES)]
                cut = (413, f"over {settings.INGEST_STREAM_MAX_BYTES} bytes (INGEST_STREAM_MAX_BYTES)")
                more = True
        pending += lines.feed(chunk)
        if not more:
            pending += lines.close()
        while len(pending) >= FLUSH_LINES:
            await flush(pending[:FLUSH_LINES])
            pending = pending[FLUSH_LINES:]
        if not more or cut or time.monotonic() - last_flush >= FLUSH_SECONDS:
            await flush(pending)
            pending = []
        if not more or cut:
            break

    summary = lines.summary(stored, batches, truncated)
    if failure:
        summary["status"] = "interrupted"
        summary["detail"] = f"storage failed, lines after the first {stored} stored were not kept: {failure}"
        await _answer(send, 503, summary, {"Retry-After": "5"})
        return
    if cut:
        summary["status"] = "cut"
        summary["detail"] = f"stream closed by the console: {cut[1]}; the lines counted as stored are kept"
        await _answer(send, cut[0], summary)
        return
    await _answer(send, 200, summary)


class LogStreamRouter:
    """ASGI http app: the continuous log path here, everything else to ``application``."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            match = PATH.match(scope.get("path", ""))
            if match:
                await continuous_logs(scope, receive, send, unquote(match["service"]))
                return
        await self.application(scope, receive, send)
