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
import queue
import threading
import time
from dataclasses import dataclass

import orjson
import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from config import redis_roles

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


class RedisSide:
    def __init__(self, size: int = QUEUE_SIZE):
        self._queue: queue.Queue[Message] = queue.Queue(maxsize=size)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._client: redis.Redis | None = None
        self.sent = 0
        self.dropped = 0
        self._last_warning = 0.0

    def put(self, message: Message) -> None:
        """Queue a message; never blocks, never raises."""
        try:
            self._queue.put_nowait(message)
        except queue.Full:
            self._drop("the queue is full")
            return
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="seed002-redis", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            message = self._queue.get()
            try:
                self._send(message)
                self.sent += 1
            except Exception as exc:  # Redis down or slow: drop, and let the next message try again
                self._client = None
                self._drop(f"{type(exc).__name__}: {exc}")
                time.sleep(0.5)
            finally:
                self._queue.task_done()

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

    def _drop(self, why: str) -> None:
        self.dropped += 1
        now = time.monotonic()
        if now - self._last_warning > 60:
            self._last_warning = now
            log.warning("seed 002 Redis side: message dropped (%s); %d dropped so far", why, self.dropped)

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far was handled (tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False


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
