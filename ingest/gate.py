"""Bodies are bounded before they cost anything: the gate ahead of the ingest paths (ASGI).

For a POST to an ingest path whose view takes an agent token (the seed paths, the
receivers, seed 004's stream and single log), before a byte of the body is read:
1. a Content-Length over INGEST_MAX_BODY_BYTES is answered 413 at once;
2. the token is checked from the headers: missing or bad, 401 (403) at once;
3. the body's bytes count against INGEST_MAX_INFLIGHT_BYTES, the bodies one
   process holds at once: beyond, 503 with Retry-After.
Then the body is read as it arrives (daphne hands these paths their body as it
comes, ingest/daphne_streaming.py), cut at INGEST_MAX_BODY_BYTES (413), and
the application behind gets it whole, as one message.

Every other request goes straight to the application behind; daphne's request
class bounds the bodies it buffers for them (ingest/daphne_streaming.py).
"""

from __future__ import annotations

import re
import threading

import orjson
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import InterfaceError, OperationalError

from monitoring import selfmetrics
from servers.auth import IngestAuthError, authenticate_agent, known_agent

# seed 004's stream and single-log paths (the continuous stream has caps of its own)
_LOG_PATHS = re.compile(r"^/api/logs/stream/[^/]+(/single)?/?$")


def _token_paths() -> frozenset[str]:
    from ingest.routes import fast_paths

    return frozenset(fast_paths())


class InflightBytes:
    """Bytes of request bodies this process holds at once."""

    def __init__(self):
        self.used = 0
        self._lock = threading.Lock()

    def reserve(self, size: int) -> bool:
        """Count ``size`` more bytes; False (nothing counted) when that would pass the limit."""
        with self._lock:
            if self.used + size > settings.INGEST_MAX_INFLIGHT_BYTES:
                return False
            self.used += size
            return True

    def release(self, size: int) -> None:
        with self._lock:
            self.used -= size


inflight = InflightBytes()
selfmetrics.INGEST_INFLIGHT_BYTES.set_function(lambda: inflight.used)


class Headers(dict):
    """ASGI headers as the mapping servers.auth reads (lower-case names)."""

    @classmethod
    def of(cls, scope) -> Headers:
        return cls((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope.get("headers", []))


def declared_length(headers) -> int | None:
    """The Content-Length a request declares, None without one (chunked)."""
    raw = headers.get("content-length")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def too_large() -> tuple[int, dict, dict]:
    return 413, {"detail": f"body over {settings.INGEST_MAX_BODY_BYTES} bytes (INGEST_MAX_BODY_BYTES)"}, {}


def too_busy() -> tuple[int, dict, dict]:
    limit = settings.INGEST_MAX_INFLIGHT_BYTES
    detail = f"too many request bodies in flight (INGEST_MAX_INFLIGHT_BYTES={limit}); retry"
    return 503, {"detail": detail}, {"Retry-After": "1"}


async def answer(send, status: int, body: dict, headers: dict | None = None) -> None:
    raw = orjson.dumps(body)
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    head += [(k.lower().encode(), str(v).encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": raw})


class IngestGate:
    """ASGI middleware: the ingest paths' token, size and in-flight checks before their body is read."""

    def __init__(self, app):
        self.app = app
        self.token_paths = _token_paths()

    def gates(self, path: str) -> bool:
        return path in self.token_paths or _LOG_PATHS.match(path) is not None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or not self.gates(scope["path"]):
            return await self.app(scope, receive, send)
        headers = Headers.of(scope)
        declared = declared_length(headers)
        if declared is not None and declared > settings.INGEST_MAX_BODY_BYTES:
            return await answer(send, *too_large())
        refusal = await self.check_token(headers)
        if refusal is not None:
            return await answer(send, *refusal)
        reserved = [0]
        try:
            if declared and not inflight.reserve(declared):
                return await answer(send, *too_busy())
            reserved[0] = declared or 0
            body = await self.read_body(receive, send, declared, reserved)
            if body is None:
                return None
            delivered = False

            async def replay():
                nonlocal delivered
                if not delivered:
                    delivered = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            return await self.app(scope, replay, send)
        finally:
            inflight.release(reserved[0])

    async def check_token(self, headers) -> tuple[int, dict, dict] | None:
        """401/403 (or 503 when the tokens cannot be read) from the headers alone; None: go on."""
        try:
            if known_agent(headers) is None:  # not in memory: one query, off the event loop
                await database_sync_to_async(authenticate_agent)(headers)
        except IngestAuthError as exc:
            extra = {"WWW-Authenticate": 'Bearer realm="ingest"'} if exc.status == 401 else {}
            return exc.status, {"detail": exc.detail}, extra
        except (OperationalError, InterfaceError):
            return 503, {"detail": "storage is unavailable, retry later"}, {"Retry-After": "5"}
        return None

    async def read_body(self, receive, send, declared: int | None, reserved: list[int]) -> bytes | None:
        """The whole body, cut at the limit as it arrives; None when answered or the client left."""
        chunks = []
        size = 0
        limit = settings.INGEST_MAX_BODY_BYTES
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await answer(send, *too_large())
                return None
            if declared is None and chunk:  # chunked: counted as it comes
                if not inflight.reserve(len(chunk)):
                    await answer(send, *too_busy())
                    return None
                reserved[0] += len(chunk)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
