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
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass
from urllib.parse import parse_qs

import orjson
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from monitoring import selfmetrics
from monitoring.live.groups import group
from monitoring.socket_limits import TRY_AGAIN_LATER, sockets

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


class LiveConsumer(AsyncWebsocketConsumer):
    """A socket with subscriptions; subclasses say which it starts with."""

    def initial_subscriptions(self, query: dict[str, str]) -> list[Subscription]:
        return [Subscription("logs"), Subscription("health"), Subscription("alerts")]

    async def connect(self) -> None:
        self.subscriptions: dict[str, list[Subscription]] = {}
        self.recent: deque[str] = deque(maxlen=256)
        query = {k: v[-1] for k, v in parse_qs(self.scope.get("query_string", b"").decode()).items()}
        self.user = await self._authenticate(query)
        if self.user is None:
            await self.close(code=4401)  # before accept: the handshake is refused (HTTP 403)
            return
        await self.accept()
        over = sockets.admit(self.user.pk)
        if over:  # accepted first: a close code and reason reach the client only after the handshake
            await self.close(code=TRY_AGAIN_LATER, reason=over)
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

    async def _authenticate(self, query: dict[str, str]):
        user = self.scope.get("user")
        if user is not None and user.is_authenticated and user.is_active:
            return user
        from servers.auth import raw_token

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self.scope.get("headers", [])}
        raw = raw_token({"authorization": headers.get("authorization", "")}, query)
        if not raw:
            return None
        return await _person_for_token(raw)

    async def disconnect(self, code) -> None:
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
            elif kind == "subscriptions":
                await self._send({"type": "subscriptions", "subscriptions": self._described()})
            else:
                raise BadRequest("type must be subscribe, unsubscribe, subscriptions or ping")
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
            await self.send(text_data=text)
            return

    async def _send(self, body: dict) -> None:
        await self.send(text_data=orjson.dumps(body).decode())

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
