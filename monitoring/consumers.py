"""WebSocket streams (Channels): the seeds' endpoints and the dashboards' feed.

Each socket holds subscriptions, each one a channel-layer group (see
monitoring/live/groups.py) with, optionally, the frame kinds it wants and a metric
type filter. Endpoints differ only in the subscriptions they start with:

  /api/v1/stream?server_id=&metric_type=   metrics frames (seed 001)
  /ws/metrics                              metrics frames (seed 002)
  /api/ws/live                             log_processed, health_update, alert_triggered (seed 004)
  /api/ws/health, /api/ws/logs/<service_name>
  (/api/ws/alerts is the alerts app's: alerts/consumers.py)

Any socket may then send ``{"type": "subscribe", "subscription_type": ..., ...}``
or ``unsubscribe`` (seed 004) and ``{"type": "ping"}``. A message the server
cannot use is answered with ``{"type": "error", ...}``; the socket stays open.

Every socket gets ``{"type": "heartbeat", "timestamp": ..., "ts": ..., "interval": N}`` every
WEBSOCKET_HEARTBEAT_INTERVAL seconds. Any frame from the client is an answer
(the console's pages send ``{"type": "heartbeat"}`` back), and so is the pong
every WebSocket client gives to daphne's ping (seed 004's browser and wscat
clients send nothing else): daphne, started by ``manage.py web``, closes a
socket that answers nothing for two intervals. Every
WEBSOCKET_AUTH_RECHECK_SECONDS the socket's token or session is checked again,
and a socket whose client leaves more than WEBSOCKET_SEND_BUFFER_BYTES unread
is closed (monitoring/socket_limits.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections import deque
from dataclasses import dataclass
from urllib.parse import parse_qs

import orjson
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from monitoring import selfmetrics
from monitoring.live.groups import group
from monitoring.socket_limits import SIGNED_OUT, TOO_SLOW, TRY_AGAIN_LATER, send_backlog, sockets
from monitoring.timestamps import iso

log = logging.getLogger(__name__)

MAX_SUBSCRIPTIONS = 64
MAX_MESSAGE_BYTES = 8192
METRIC_KINDS = frozenset({"metrics"})


class BadRequest(ValueError):
    pass


@dataclass(frozen=True)
class Subscription:
    """What a socket asked for, and the group that carries it."""

    subscription_type: str
    key: str | None = None
    metric_type: str | None = None

    @property
    def group(self) -> str:
        return {
            "logs": lambda: group("logs"),
            "service_logs": lambda: group("logs.service", self.key),
            "health": lambda: group("health"),
            "alerts": lambda: group("alerts"),
            "events": lambda: group("events"),
            "fleet": lambda: group("fleet"),
            "server": lambda: group("metrics.server", self.key),
            "metrics": self._metrics_group,
        }[self.subscription_type]()

    def _metrics_group(self) -> str:
        if self.key:
            return group("metrics.server", self.key)
        if self.metric_type:
            return group("metrics.type", self.metric_type)
        return group("metrics")

    @property
    def kinds(self) -> frozenset | None:
        return METRIC_KINDS if self.subscription_type == "metrics" else None

    def describe(self) -> dict:
        body = {"subscription_type": self.subscription_type}
        if self.subscription_type == "service_logs":
            body["service_name"] = self.key
        elif self.key:
            body["server_id"] = self.key
        if self.metric_type:
            body["metric_type"] = self.metric_type
        return body

    @classmethod
    def parse(cls, message: dict) -> Subscription:
        kind = message.get("subscription_type")
        if kind not in SUBSCRIPTION_TYPES:
            raise BadRequest(f"subscription_type must be one of {', '.join(SUBSCRIPTION_TYPES)}")
        if kind == "service_logs":
            return cls(kind, key=_text(message, "service_name", required=True, limit=255))
        if kind == "server":
            return cls(kind, key=_server_id(message.get("server_id"), required=True))
        if kind == "metrics":
            return cls(
                kind,
                key=_server_id(message.get("server_id")),
                metric_type=_text(message, "metric_type", limit=128),
            )
        return cls(kind)


SUBSCRIPTION_TYPES = ("logs", "service_logs", "health", "alerts", "events", "fleet", "server", "metrics")


def _text(message: dict, field: str, *, required: bool = False, limit: int = 255) -> str | None:
    value = message.get(field)
    if value is None or value == "":
        if required:
            raise BadRequest(f"{field} is required")
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise BadRequest(f"{field} must be a string of at most {limit} characters")
    return value


def _server_id(value, *, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise BadRequest("server_id is required")
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise BadRequest("server_id must be a UUID")


@database_sync_to_async
def _person_for_token(raw: str):
    from servers.choices import TokenKind
    from servers.models import AgentToken

    token = AgentToken.find(raw)
    if token is None or token.kind != TokenKind.USER or token.user is None or not token.user.is_active:
        return None
    return token.user


async def _person_for_session(session_key: str):
    """The person a session (read again from the store) belongs to, or None once they logged out."""
    from importlib import import_module

    from channels.auth import get_user

    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    user = await get_user({"session": store})
    return user if user.is_authenticated and user.is_active else None


class LiveConsumer(AsyncWebsocketConsumer):
    """A socket with subscriptions; subclasses say which it starts with."""

    def initial_subscriptions(self, query: dict[str, str]) -> list[Subscription]:
        return [Subscription("logs"), Subscription("health"), Subscription("alerts")]

    async def connect(self) -> None:
        self.subscriptions: dict[str, list[Subscription]] = {}
        self.recent: deque[str] = deque(maxlen=256)
        self.closing = False
        self.credential: tuple[str, str] | None = None  # ("token", raw) or ("session", key): checked again
        query = {k: v[-1] for k, v in parse_qs(self.scope.get("query_string", b"").decode()).items()}
        self.user = await self._authenticate(query)
        if self.user is None:
            await self.close(code=4401)  # before accept: the handshake is refused (HTTP 403)
            return
        await self.accept()
        over = sockets.admit(self.user.pk)
        if over:  # accepted first: a close code and reason reach the client only after the handshake
            await self._close(TRY_AGAIN_LATER, over)
            return
        self.admitted = True
        self.counted = True
        selfmetrics.WEBSOCKETS.inc()
        try:
            initial = [] if query.get("defaults") == "none" else self.initial_subscriptions(query)
        except BadRequest as exc:
            await self._error(str(exc))
            await self.close(code=4400)
            return
        for subscription in initial:
            await self._subscribe(subscription)
        await self._send({"type": "connected", "subscriptions": self._described()})
        self.watchdog = asyncio.ensure_future(self._watch())

    async def _authenticate(self, query: dict[str, str]):
        user = self.scope.get("user")
        if user is not None and user.is_authenticated and user.is_active:
            self.credential = ("session", self.scope["session"].session_key)
            return user
        from servers.auth import raw_token

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self.scope.get("headers", [])}
        raw = raw_token({"authorization": headers.get("authorization", "")}, query)
        if not raw:
            return None
        self.credential = ("token", raw)
        return await _person_for_token(raw)

    async def _still_signed_in(self) -> bool:
        """Whether the token is still valid, or the session not logged out, for the same active person."""
        if self.credential is None:
            return True
        how, secret = self.credential
        person = await (_person_for_token(secret) if how == "token" else _person_for_session(secret))
        return person is not None and person.pk == self.user.pk

    async def _watch(self) -> None:
        """A heartbeat frame every WEBSOCKET_HEARTBEAT_INTERVAL; the credential every WEBSOCKET_AUTH_RECHECK_SECONDS."""
        loop = asyncio.get_running_loop()
        beat, recheck = settings.WEBSOCKET_HEARTBEAT_INTERVAL, settings.WEBSOCKET_AUTH_RECHECK_SECONDS
        next_beat = loop.time() + beat if beat > 0 else math.inf
        next_check = loop.time() + recheck if recheck > 0 else math.inf
        while not self.closing and min(next_beat, next_check) < math.inf:
            await asyncio.sleep(max(0.0, min(next_beat, next_check) - loop.time()))
            now = loop.time()
            if now >= next_check:
                next_check = now + recheck
                if not await self._still_signed_in():
                    reason = "the token was revoked" if self.credential[0] == "token" else "the session ended"
                    await self._close(SIGNED_OUT, reason)
                    return
            if now >= next_beat:
                next_beat = now + beat
                at = iso(timezone.now())  # timestamp: the reads' name; ts kept
                await self._send({"type": "heartbeat", "timestamp": at, "ts": at, "interval": beat})

    async def _close(self, code: int, reason: str) -> None:
        """Close with a code; the reason goes in a last frame too, as daphne sends close frames without one."""
        if not self.closing:
            self.closing = True
            await self.send(text_data=orjson.dumps({"type": "error", "error": reason, "close_code": code}).decode())
            await self.close(code=code, reason=reason)

    async def disconnect(self, code) -> None:
        self.closing = True
        watchdog = getattr(self, "watchdog", None)
        if watchdog is not None and watchdog is not asyncio.current_task():
            watchdog.cancel()
        if getattr(self, "admitted", False):
            self.admitted = False
            sockets.release(self.user.pk)
        if getattr(self, "counted", False):
            self.counted = False
            selfmetrics.WEBSOCKETS.dec()
        for name in list(getattr(self, "subscriptions", {})):
            await self.channel_layer.group_discard(name, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        raw = text_data if text_data is not None else bytes_data
        if raw is None or len(raw) > MAX_MESSAGE_BYTES:
            await self._error(f"messages are JSON objects of at most {MAX_MESSAGE_BYTES} bytes")
            return
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            await self._error("message is not valid JSON")
            return
        if not isinstance(message, dict):
            await self._error("message must be a JSON object with a type")
            return
        kind = message.get("type")
        try:
            if kind == "subscribe":
                subscription = Subscription.parse(message)
                await self._subscribe(subscription)
                await self._send({"type": "subscribed", **subscription.describe()})
            elif kind == "unsubscribe":
                subscription = Subscription.parse(message)
                await self._unsubscribe(subscription)
                await self._send({"type": "unsubscribed", **subscription.describe()})
            elif kind == "ping":
                await self._send({"type": "pong"})
            elif kind in ("heartbeat", "pong"):
                pass  # an answer to our heartbeat: that a frame came is all daphne needs to keep the socket
            elif kind == "subscriptions":
                await self._send({"type": "subscriptions", "subscriptions": self._described()})
            else:
                raise BadRequest("type must be subscribe, unsubscribe, subscriptions, ping or heartbeat")
        except BadRequest as exc:
            await self._error(str(exc), request=message)

    async def _subscribe(self, subscription: Subscription) -> None:
        if sum(len(subs) for subs in self.subscriptions.values()) >= MAX_SUBSCRIPTIONS:
            raise BadRequest(f"at most {MAX_SUBSCRIPTIONS} subscriptions per connection")
        name = subscription.group
        subs = self.subscriptions.setdefault(name, [])
        if subscription in subs:
            return
        if not subs:
            await self.channel_layer.group_add(name, self.channel_name)
        subs.append(subscription)

    async def _unsubscribe(self, subscription: Subscription) -> None:
        name = subscription.group
        subs = self.subscriptions.get(name, [])
        if subscription not in subs:
            raise BadRequest("not subscribed to that")
        subs.remove(subscription)
        if not subs:
            del self.subscriptions[name]
            await self.channel_layer.group_discard(name, self.channel_name)

    def _described(self) -> list[dict]:
        return [s.describe() for subs in self.subscriptions.values() for s in subs]

    async def live_frame(self, message: dict) -> None:
        """A frame from the publisher: forward it once if a subscription wants it."""
        frame_id = message.get("id")
        if frame_id in self.recent:
            return
        kind = message.get("kind")
        for subscription in self.subscriptions.get(message.get("group"), ()):
            if subscription.kinds is not None and kind not in subscription.kinds:
                continue
            if subscription.metric_type and subscription.key:
                text = _only_metric_type(message["text"], subscription.metric_type)
                if text is None:
                    continue
            else:
                text = message["text"]
            self.recent.append(frame_id)
            await self._deliver(text)
            return

    async def _send(self, body: dict) -> None:
        await self._deliver(orjson.dumps(body).decode())

    async def _deliver(self, text: str) -> None:
        """Send a frame, unless closing; a client that leaves too much unread is disconnected instead."""
        if self.closing:
            return
        await self.send(text_data=text)
        backlog = send_backlog(self.scope)
        if backlog > settings.WEBSOCKET_SEND_BUFFER_BYTES > 0:
            log.warning("live socket of %s closed: %d bytes unread (slow reader)", self.user, backlog)
            await self._close(TOO_SLOW, f"too slow: more than {settings.WEBSOCKET_SEND_BUFFER_BYTES} bytes unread")

    async def _error(self, detail: str, request=None) -> None:
        body = {"type": "error", "error": detail}
        if isinstance(request, dict) and "type" in request:
            body["request_type"] = str(request["type"])[:64]
        await self._send(body)


def _only_metric_type(text: str, metric_type: str) -> str | None:
    """A metrics frame narrowed to one metric type, or None when nothing is left."""
    body = orjson.loads(text)
    series = [s for s in body.get("series", []) if s.get("metric_type") == metric_type]
    if not series:
        return None
    body["series"] = series
    body["metric_type"] = metric_type
    return orjson.dumps(body).decode()


class MetricStreamConsumer(LiveConsumer):
    """WS /api/v1/stream (seed 001) and /ws/metrics (seed 002): metrics frames, filtered by the query."""

    def initial_subscriptions(self, query: dict[str, str]) -> list[Subscription]:
        return [Subscription.parse({**query, "subscription_type": "metrics"})]


class HealthConsumer(LiveConsumer):
    def initial_subscriptions(self, query: dict[str, str]) -> list[Subscription]:
        return [Subscription("health")]


class ServiceLogsConsumer(LiveConsumer):
    def initial_subscriptions(self, query: dict[str, str]) -> list[Subscription]:
        service = self.scope["url_route"]["kwargs"]["service_name"]
        return [Subscription.parse({"subscription_type": "service_logs", "service_name": service})]
