"""daphne delivers ingest bodies to the application as they arrive, and bounds every other body.

daphne's WebRequest (a Twisted ``http.Request``) buffers the whole request body
and creates the application only once the request has ended, so the continuous
log stream (ingest/streaming.py) would store nothing until the stream ends.

``StreamingWebRequest`` changes that for requests whose path is the continuous
stream only: when Twisted has read the headers (``gotLength``, called from
``HTTPChannel.allHeadersReceived``) it runs daphne's own ``process()`` early,
so header validation, the scope and the application are daphne's, without the
body; then every decoded body chunk (Twisted has already undone chunked
transfer encoding) goes to the application as ``http.request`` with
``more_body=True``, and the end of the request as an empty ``more_body=False``
chunk. The body is not kept in memory. Every other request is daphne's own.

The same is done for the paths ingest/gate.py guards, so the gate checks the
token, the declared size and the bodies in flight before any of the body is read.

Every other request is buffered by daphne (in memory, or a temporary file when
large) as before, but bounded here as it arrives: a Content-Length over
INGEST_MAX_BODY_BYTES is answered 413 at once, a chunked body is cut at that
limit (413), and its bytes count against INGEST_MAX_INFLIGHT_BYTES (503 with
Retry-After beyond), so no request fills the disk or the memory. Such an early
answer is written straight to the connection, which then closes.

A streamed body is read no faster than the application takes it: while more
than ``QUEUE_CHUNKS`` chunks wait in its queue, reading from the socket pauses.

``install()`` swaps the class in: ``HTTPFactory.buildProtocol`` reads the
module-level name ``WebRequest`` each time it builds a protocol.
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import unquote

import daphne.http_protocol
import orjson
from daphne.http_protocol import WebRequest
from daphne.utils import HEADER_NAME_RE, INVALID_HEADER_VALUE_BYTES
from django.conf import settings

from ingest import gate
from ingest.streaming import PATH

# chunks waiting for the application before reading from the socket pauses (backpressure)
QUEUE_CHUNKS = 64
RESUME_CHECK_SECONDS = 0.02
_gated = gate.IngestGate(None)


class _NoBodyYet:
    """Stands in for the body while daphne's process() runs at the end of the headers.

    ``closed`` makes process() return after creating the application, before it
    reads and sends the (not yet received) body.
    """

    closed = True

    def seek(self, *args) -> int:
        return 0

    def read(self, *args) -> bytes:
        return b""


def _path(uri: bytes) -> str | None:
    try:
        return unquote(uri.split(b"?", 1)[0].decode("ascii"))
    except UnicodeDecodeError:
        return None


def is_continuous_stream(uri: bytes) -> bool:
    path = _path(uri)
    return path is not None and PATH.match(path) is not None


def is_streamed(command: bytes, uri: bytes) -> bool:
    """The continuous log stream, and the POSTs the ingest gate checks before their body."""
    path = _path(uri)
    if path is None:
        return False
    return PATH.match(path) is not None or (command == b"POST" and _gated.gates(path))


class StreamingWebRequest(WebRequest):
    """A daphne request that streams the body of ``/api/logs/stream/{service}/continuous``."""

    streaming = False
    body_complete = False
    refused = False  # answered before its body ended: the rest is not read
    received = 0  # bytes of a buffered body so far
    reserved = 0  # of them, counted in flight

    def gotLength(self, length):
        super().gotLength(length)
        channel = self.channel
        command = getattr(channel, "_command", None)
        uri = getattr(channel, "_path", None)
        version = getattr(channel, "_version", None)
        if command is None or uri is None or version is None or not is_streamed(command, uri):
            self._bound_buffered(length)
            return
        if self.requestHeaders.hasHeader(b"Upgrade") or not self._acceptable(uri):
            # daphne answers these (400, websocket) once the request has ended, as before
            return
        self.streaming = True
        # what http.Request.requestReceived sets before calling process()
        self.method, self.uri, self.clientproto = command, uri, version
        self.path = uri.split(b"?", 1)[0]
        self.args = {}
        body, self.content = self.content, _NoBodyYet()  # type: ignore[has-type]  # twisted is untyped
        try:
            self.process()  # create_application is synchronous: done when this returns
        finally:
            self.content = body

    def _acceptable(self, uri: bytes) -> bool:
        """What daphne's process() checks before it answers 400, checked without answering."""
        for name, values in self.requestHeaders.getAllRawHeaders():
            if not HEADER_NAME_RE.fullmatch(name):
                return False
            if any(INVALID_HEADER_VALUE_BYTES.intersection(value) for value in values):
                return False
        try:
            uri.decode("ascii")
        except UnicodeDecodeError:
            return False
        return True

    def _bound_buffered(self, length: int | None) -> None:
        """A body daphne buffers: over the limit or past the bytes in flight, answered at once."""
        if length is None:
            return
        if length > settings.INGEST_MAX_BODY_BYTES:
            self._refuse(*gate.too_large())
        elif length and gate.inflight.reserve(length):
            self.reserved = length
        elif length:
            self._refuse(*gate.too_busy())

    def _refuse(self, status: int, body: dict, headers: dict) -> None:
        """Answer now, on the raw connection, and close it: the rest of the body is never read."""
        self.refused = True
        raw = orjson.dumps(body)
        reason = {413: b"Payload Too Large", 503: b"Service Unavailable"}.get(status, b"Error")
        head = [b"HTTP/1.1 %d %s" % (status, reason), b"Content-Type: application/json"]
        head += [f"{name}: {value}".encode("latin-1") for name, value in headers.items()]
        head += [b"Content-Length: %d" % len(raw), b"Connection: close", b"", b""]
        transport = self.channel.transport if self.channel is not None else None
        if transport is not None:
            transport.write(b"\r\n".join(head) + raw)
            transport.loseConnection()

    def handleContentChunk(self, data):
        if self.refused:
            return
        if not self.streaming:
            self.received += len(data)
            if self.received > settings.INGEST_MAX_BODY_BYTES:
                self._refuse(*gate.too_large())
                return
            if self.received > self.reserved:  # chunked: counted as it comes
                if not gate.inflight.reserve(self.received - self.reserved):
                    self._refuse(*gate.too_busy())
                    return
                self.reserved = self.received
            super().handleContentChunk(data)
            return
        if data and self.application_queue is not None and not self.finished:
            self.application_queue.put_nowait({"type": "http.request", "body": data, "more_body": True})
            if self.application_queue.qsize() > QUEUE_CHUNKS and self.channel is not None:
                self.channel._networkProducer.pauseProducing()
                _later(RESUME_CHECK_SECONDS, self._resume_when_drained)

    def _resume_when_drained(self) -> None:
        """Read from the socket again once the application has taken half of what waits."""
        if self.finished or self.channel is None or self.application_queue is None:
            return
        if self.application_queue.qsize() > QUEUE_CHUNKS // 2:
            _later(RESUME_CHECK_SECONDS, self._resume_when_drained)
            return
        self.channel._networkProducer.resumeProducing()

    def requestReceived(self, command, path, version):
        if self.refused:
            return
        if not self.streaming:
            super().requestReceived(command, path, version)
            return
        self.body_complete = True
        if self.application_queue is not None and not self.finished:
            self.application_queue.put_nowait({"type": "http.request", "body": b"", "more_body": False})

    def finish(self):
        if self.streaming and not self.body_complete and self.channel is not None:
            # answered before the body ended (401, 413, 429, ...): the rest of the body
            # must not be read as a next request, so the connection closes
            self.channel.persistent = False
            self.channel._networkProducer.resumeProducing()  # if paused, let the close go through
        self._release()
        super().finish()

    def connectionLost(self, reason):
        self._release()
        super().connectionLost(reason)

    def _release(self) -> None:
        if self.reserved:
            gate.inflight.release(self.reserved)
            self.reserved = 0


def _later(seconds: float, call) -> None:
    from twisted.internet import reactor  # daphne's, installed before the application loads

    cast(Any, reactor).callLater(seconds, call)


def install() -> None:
    """Make daphne build ``StreamingWebRequest`` for every HTTP request."""
    daphne.http_protocol.WebRequest = StreamingWebRequest
