"""How many live sockets this process holds, in all and per person: a socket over a cap is closed (1013).

Each open socket costs the process a coroutine, its send queue and its group
memberships in Redis. MAX_WEBSOCKET_CONNECTIONS (seed 004's setting) caps a
daphne process; MAX_WEBSOCKET_CONNECTIONS_PER_PERSON stops one person (or one
leaked token in a reconnect loop) from taking them all. A socket over either cap
is accepted and at once closed with code 1013 ("try again later") and a reason
saying which cap, so a client backs off instead of seeing a bare failed handshake.
The counts live in the process (one event loop): each daphne process has its own caps.

A client that stops reading makes the server buffer what it is sent: daphne
writes each frame at once into the socket's transport, whose buffer would grow
without end. ``send_backlog`` reads how much of it the client has not taken, and
the consumer disconnects the socket past WEBSOCKET_SEND_BUFFER_BYTES.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable

from django.conf import settings

TRY_AGAIN_LATER = 1013  # over a cap
TOO_SLOW = 1008  # policy: a client must read what it asked for
SIGNED_OUT = 4401  # the token was revoked or the session ended while the socket was open


class SocketCount:
    def __init__(self) -> None:
        self.total = 0
        self.by_person: Counter = Counter()

    def admit(self, person_id) -> str:
        """Count the socket in and answer "", or answer why it is over a cap (and count nothing)."""
        if settings.MAX_WEBSOCKET_CONNECTIONS > 0 and self.total >= settings.MAX_WEBSOCKET_CONNECTIONS:
            return f"this server holds its maximum of {settings.MAX_WEBSOCKET_CONNECTIONS} live connections"
        per_person = settings.MAX_WEBSOCKET_CONNECTIONS_PER_PERSON
        if per_person > 0 and self.by_person[person_id] >= per_person:
            return f"you already have {per_person} live connections open (MAX_WEBSOCKET_CONNECTIONS_PER_PERSON)"
        self.total += 1
        self.by_person[person_id] += 1
        return ""

    def release(self, person_id) -> None:
        self.total = max(0, self.total - 1)
        self.by_person[person_id] -= 1
        if self.by_person[person_id] <= 0:
            del self.by_person[person_id]


sockets = SocketCount()


def send_backlog(scope: dict) -> int:
    """Bytes sent to this socket that its client has not taken yet (0 when the server cannot tell)."""
    reader = scope.get("send_backlog")
    return reader() if reader is not None else 0


class SendBacklog:
    """ASGI middleware (outermost on WebSockets): ``scope["send_backlog"]`` reads the socket's unsent bytes.

    daphne hands each connection ``send = partial(server.handle_reply, protocol)``;
    the protocol's Twisted transport keeps what the kernel has not accepted yet in
    ``dataBuffer`` (from ``offset``) and ``_tempDataBuffer``. Another server, or a
    test communicator, gets no reader: the bound is then not enforced.
    """

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        reader = _transport_backlog(send)
        if reader is not None:
            scope = {**scope, "send_backlog": reader}
        return await self.application(scope, receive, send)


def _transport_backlog(send) -> Callable[[], int] | None:
    protocol = send.args[0] if isinstance(send, functools.partial) and send.args else None
    if not hasattr(getattr(protocol, "transport", None), "dataBuffer"):
        return None

    def backlog() -> int:
        transport = protocol.transport
        if transport is None:
            return 0
        return len(transport.dataBuffer) - transport.offset + transport._tempDataLen

    return backlog


def install_close_codes() -> None:
    """Make daphne send the application's close code and reason as given.

    daphne passes only the code of a ``websocket.close`` to autobahn's
    ``sendClose``, which refuses the registered codes between 1001 and 2999
    (1013 "try again later", 1008 "policy violation") and never gets the reason.
    The close frame is written with autobahn's lower-level ``sendCloseFrame``.
    """
    from autobahn.util import encode_truncate
    from daphne.ws_protocol import WebSocketProtocol

    if getattr(WebSocketProtocol, "sends_close_reasons", False):
        return
    daphne_reply = WebSocketProtocol.handle_reply

    def handle_reply(self, message):
        if message.get("type") != "websocket.close" or self.state == self.STATE_CONNECTING:
            return daphne_reply(self, message)
        reason = message.get("reason") or None
        code = message.get("code") or 1000
        self.sendCloseFrame(code=code, reasonUtf8=reason and encode_truncate(reason, 123), isReply=False)

    WebSocketProtocol.handle_reply = handle_reply
    WebSocketProtocol.sends_close_reasons = True
