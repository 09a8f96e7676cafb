"""The per-agent request limit (AGENT_RATE_LIMIT_PER_MINUTE): one window a minute per agent identity, in Redis.

Every path an agent writes through counts against it: the ingest paths, event posts
and service registration. Redis being down lets requests through: Redis down never
fails a write.
"""

from __future__ import annotations

import time

import redis
from django.conf import settings


class RateLimiter:
    """A fixed one-minute window per agent in Redis; Redis being down lets requests through."""

    def __init__(self):
        self._client = None
        self._url = None
        self._down_until = 0.0

    def client(self):
        if self._client is None or self._url != settings.CACHE_REDIS_URL:
            self._url = settings.CACHE_REDIS_URL
            self._client = redis.Redis.from_url(
                self._url, socket_connect_timeout=0.2, socket_timeout=0.2, health_check_interval=30
            )
        return self._client

    def reset(self) -> None:
        """Forget the client and any outage (tests, or after REDIS_URL changed)."""
        self._client = None
        self._url = None
        self._down_until = 0.0

    def retry_after(self, key: str, limit: int | None = None) -> int | None:
        """Seconds to wait when this agent is over its limit (per minute), else None."""
        if limit is None:
            limit = settings.AGENT_RATE_LIMIT_PER_MINUTE
        if limit <= 0 or time.monotonic() < self._down_until:
            return None
        now = time.time()
        window = int(now // 60)
        bucket = f"ingest:rate:{key}:{window}"
        try:
            pipe = self.client().pipeline()
            pipe.incr(bucket)
            pipe.expire(bucket, 120)
            count = pipe.execute()[0]
        except redis.RedisError:
            self._down_until = time.monotonic() + 5  # don't pay a timeout on every request
            return None
        if count > limit:
            return max(1, int((window + 1) * 60 - now) + 1)
        return None


rate_limiter = RateLimiter()
