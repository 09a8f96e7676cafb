"""Seed 002's Redis side, for tools built on it (``SEED002_REDIS_COMPAT=true``).

Seed 002 kept each received payload in a Redis sorted set (``REDIS_METRICS_KEY``,
``metrics:timeline``, scored by the payload's timestamp, trimmed to
``RETENTION_SECONDS``) and published it on ``REDIS_METRICS_CHANNEL``
(``metrics:live``); its alerts went to ``REDIS_ALERTS_KEY`` / ``REDIS_ALERTS_CHANNEL``
(``alerts:timeline`` / ``alerts:live``, trimmed to ``ALERT_RETENTION_SECONDS``). The
console does the same, best effort: the ingest path (after its commit) and the
alerts app only put a message on a bounded in-process queue; one background
thread sends it with a short timeout. A full queue or an unreachable Redis drops
messages (counted, logged at most once a minute); ingest never waits on it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from config import redis_roles
from monitoring.background import BackgroundSender

log = logging.getLogger(__name__)

QUEUE_SIZE = 10_000
# a timeline also keeps at most this many entries, whatever their age (an agent flooding it)
MAX_TIMELINE_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class Message:
    channel: str
    key: str
    score: float
    text: str
    keep_seconds: int


def connect(url: str) -> redis.Redis:
    """A client that fails at once: no retries (redis-py's default retries take seconds), one-second timeouts."""
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 0))


class RedisSide(BackgroundSender):
    """Seed 002's messages, sent by one background thread (monitoring/background.py)."""

    thread_name = "seed002-redis"

    def __init__(self, size: int = QUEUE_SIZE):
        super().__init__(size)
        self._client: redis.Redis | None = None
        self.sent = 0
        self._last_warning = 0.0

    def put(self, message: Message) -> None:
        """Queue a message; never blocks, never raises."""
        if not self.offer(message):
            self._warn("the queue is full")

    def handler(self) -> Callable[[Message], None]:
        return self._send_one

    def _send_one(self, message: Message) -> None:
        try:
            self._send(message)
            self.sent += 1
        except Exception as exc:  # Redis down or slow: drop, and let the next message try again
            self._client = None
            self.dropped += 1
            self._warn(f"{type(exc).__name__}: {exc}")
            time.sleep(0.5)

    def _send(self, message: Message) -> None:
        if self._client is None:
            # seed 002's Redis is REDIS_URL (or its REDIS_HOST/PORT/DB); behind Sentinels, the cache's server
            url = settings.CACHE_REDIS_URL if redis_roles.is_sentinel(settings.REDIS_URL) else settings.REDIS_URL
            self._client = connect(url)
        pipe = self._client.pipeline(transaction=False)
        pipe.publish(message.channel, message.text)
        pipe.zadd(message.key, {message.text: message.score})
        pipe.zremrangebyscore(message.key, "-inf", f"({time.time() - message.keep_seconds}")
        pipe.zremrangebyrank(message.key, 0, -(MAX_TIMELINE_ENTRIES + 1))
        pipe.execute()

    def _warn(self, why: str) -> None:
        """A message was dropped: say so at most once a minute."""
        now = time.monotonic()
        if now - self._last_warning > 60:
            self._last_warning = now
            log.warning("seed 002 Redis side: message dropped (%s); %d dropped so far", why, self.dropped)


side = RedisSide()


def publish_metrics(payload: dict, ts: float) -> None:
    """A received seed 002 payload, as the seed kept it (after the request's commit)."""
    if not settings.SEED002_REDIS_COMPAT:
        return
    try:
        text = orjson.dumps(payload).decode()
    except TypeError:
        log.warning("seed 002 Redis side: a payload could not be encoded", exc_info=True)
        return
    side.put(Message(settings.REDIS_METRICS_CHANNEL, settings.REDIS_METRICS_KEY, ts, text, settings.RETENTION_SECONDS))


def publish_alert(event: dict, ts: float) -> None:
    """An alert event (fired, resolved), as GET /api/alerts/recent answers it."""
    if not settings.SEED002_REDIS_COMPAT:
        return
    text = orjson.dumps(event, default=str).decode()
    side.put(
        Message(settings.REDIS_ALERTS_CHANNEL, settings.REDIS_ALERTS_KEY, ts, text, settings.ALERT_RETENTION_SECONDS)
    )
