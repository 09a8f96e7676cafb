"""daphne delivers the body of a continuous log stream to the application as it arrives.

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

``install()`` swaps the class in: ``HTTPFactory.buildProtocol`` reads the
module-level name ``WebRequest`` each time it builds a protocol.
"""

from __future__ import annotations

from urllib.parse import unquote

import daphne.http_protocol
from daphne.http_protocol import WebRequest
from daphne.utils import HEADER_NAME_RE, INVALID_HEADER_VALUE_BYTES

from ingest.streaming import PATH


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


def is_continuous_stream(uri: bytes) -> bool:
    try:
        path = unquote(uri.split(b"?", 1)[0].decode("ascii"))
    except UnicodeDecodeError:
        return False
    return PATH.match(path) is not None


class StreamingWebRequest(WebRequest):
    """A daphne request that streams the body of ``/api/logs/stream/{service}/continuous``."""

    streaming = False
    body_complete = False

    def gotLength(self, length):
        super().gotLength(length)
        channel = self.channel
        command = getattr(channel, "_command", None)
        uri = getattr(channel, "_path", None)
        version = getattr(channel, "_version", None)
        if command is None or uri is None or version is None or not is_continuous_stream(uri):
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

    def handleContentChunk(self, data):
        if not self.streaming:
            super().handleContentChunk(data)
            return
        if data and self.application_queue is not None and not self.finished:
            self.application_queue.put_nowait({"type": "http.request", "body": data, "more_body": True})

    def requestReceived(self, command, path, version):
        if not self.streaming:
            super().requestReceived(command, path, version)
            return
        self.body_complete = True
        if self.application_queue is not None and not self.finished:
            self.application_queue.put_nowait({"type": "http.request", "body": b"", "more_body": False})

    def finish(self):
        if self.streaming and not self.body_complete and self.channel is not None:
            # answered before the body ended (401, 429, ...): the rest of the body
            # must not be read as a next request, so the connection closes
            self.channel.persistent = False
        super().finish()


def install() -> None:
    """Make daphne build ``StreamingWebRequest`` for every HTTP request."""
    daphne.http_protocol.WebRequest = StreamingWebRequest
