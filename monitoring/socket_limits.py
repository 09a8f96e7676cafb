"""How many live sockets this process holds, in all and per person: a socket over a cap is closed (1013).

Each open socket costs the process a coroutine, its send queue and its group
memberships in Redis. MAX_WEBSOCKET_CONNECTIONS (seed 004's setting) caps a
daphne process; MAX_WEBSOCKET_CONNECTIONS_PER_PERSON stops one person (or one
leaked token in a reconnect loop) from taking them all. A socket over either cap
is accepted and at once closed with code 1013 ("try again later") and a reason
saying which cap, so a client backs off instead of seeing a bare failed handshake.
The counts live in the process (one event loop): each daphne process has its own caps.
"""

from __future__ import annotations

from collections import Counter

from django.conf import settings

TRY_AGAIN_LATER = 1013


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
