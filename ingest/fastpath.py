"""The seeds' ingest paths served ahead of Django's middleware (the hot path under daphne).

Under ASGI, Django runs a sync view and the sync middleware around it in a
thread of its own per request, hopping between the event loop and that thread
at each middleware, and opens a new database connection for each request (the
connection belongs to the thread). For a 1,000-sample request that overhead
costs more than the work. This app answers POSTs to the metric ingest paths
(the routes marked ``fast`` in ingest/routes.py) itself: it reads the body,
then runs the very same view (``ingest_endpoint``:
auth, 413, 429, 400, idempotent COPY write, live publish) in a small pool of
INGEST_THREADS threads, each keeping its database connection between requests
(reopened after CONN_MAX_AGE or an error, as Django does at request
boundaries). The threads let one request's database round trips overlap
another's decoding. Every other request goes to the wrapped app (Django).

The ingest request log line (DATA_DIR/logs/ingest.log) is written here, as
``ingest.middleware.IngestRequestLog`` does for requests Django serves.
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import connections
from django.http import HttpResponse

from ingest.base import error_response
from ingest.middleware import log_request

log = logging.getLogger(__name__)


_pools: list[IngestFastPath] = []


def close_connections() -> None:
    """Close the pool threads' database connections in every fast path of this process."""
    for fastpath in _pools:
        fastpath.close_connections()


class IngestFastPath:
    """ASGI middleware: POSTs to the fast routes of ingest/routes.py answered by a thread pool."""

    def __init__(self, app, threads: int | None = None):
        self.app = app
        from ingest.routes import fast_paths  # the views need the apps loaded

        self.routes = fast_paths()
        self.threads = threads or settings.INGEST_THREADS
        self.executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="ingest")
        _pools.append(self)

    def close_connections(self, timeout: float = 10) -> None:
        """Close the database connection of every pool thread (tests; before the database goes away)."""
        barrier = threading.Barrier(self.threads, timeout=timeout)

        def close() -> None:
            connections.close_all()
            try:
                barrier.wait()  # hold this thread so each task lands on a thread of its own
            except threading.BrokenBarrierError:
                pass

        for future in [self.executor.submit(close) for _ in range(self.threads)]:
            future.result(timeout=timeout + 1)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST":
            view = self.routes.get(scope["path"])
            if view is not None:
                return await self.serve(view, scope, receive, send)
        return await self.app(scope, receive, send)

    async def serve(self, view, scope, receive, send) -> None:
        body = await _read_body(receive)
        if body is None:  # the client went away
            return
        loop = asyncio.get_running_loop()
        response = await loop.run_in_executor(self.executor, _handle, view, scope, body)
        await _send(send, response)


async def _read_body(receive) -> bytes | None:
    """The whole body (ingest/gate.py, ahead of this app, bounded it); None on disconnect."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _handle(view, scope, body: bytes) -> HttpResponse:
    """Run the ingest view in this pool thread, with Django's request-boundary connection upkeep."""
    started = time.perf_counter()
    request = None
    try:
        request = ASGIRequest(scope, io.BytesIO(body))
        response = view(request)
    except Exception:  # never let a bug take the pool thread's answer away
        log.exception("ingest request failed")
        response = error_response(500, "internal error; the request was not stored")
    finally:
        _connection_upkeep()
    log_request(
        request,
        path=scope["path"],
        status=response.status_code,
        size=len(body),
        started=started,
        remote=(scope.get("client") or [None])[0],
        body=body,
    )
    return response


_opened = threading.local()


def _connection_upkeep() -> None:
    """Close this thread's connection when it had an error or outlived INGEST_CONN_MAX_AGE.

    The pool threads keep their own connections: the web process runs Django's
    with CONN_MAX_AGE 0 (config/web_database.py), which would reconnect for every
    request. Django's ``close_old_connections`` would also re-arm the health check,
    one more round trip (``SELECT 1``) on every request; a connection that broke
    shows it by an error, and is closed here after that request.
    """
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        if conn.connection is None:
            continue
        key = (conn.alias, id(conn.connection))
        born = getattr(_opened, "since", {}).get(key)
        if born is None:
            _opened.since = {key: now}  # a new connection (the previous one of this thread is gone)
            born = now
        if conn.errors_occurred or now - born >= settings.INGEST_CONN_MAX_AGE:
            conn.close()


async def _send(send, response: HttpResponse) -> None:
    headers = [(name.lower().encode("latin-1"), str(value).encode("latin-1")) for name, value in response.items()]
    content = response.content
    if not response.has_header("Content-Length"):
        headers.append((b"content-length", str(len(content)).encode()))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": content})
