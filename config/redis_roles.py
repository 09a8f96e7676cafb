"""Redis per role: the Celery broker, the channel layer and the cache may each have their own Redis.

Each of CELERY_BROKER_URL, CHANNEL_REDIS_URL and CACHE_REDIS_URL defaults to
REDIS_URL. A ``sentinel://host:26379;sentinel://other:26379/0`` URL (kombu's
form) names Redis Sentinels instead of one server, with the master named by
REDIS_SENTINEL_MASTER: Celery (kombu) and the channel layer (channels_redis)
support it; Django's Redis cache does not, so CACHE_REDIS_URL must name a server.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured


def is_sentinel(url: str) -> bool:
    return url.startswith("sentinel://")


def sentinels(url: str) -> tuple[list[tuple[str, int]], int]:
    """(host, port) of each Sentinel in a ``sentinel://a:26379;sentinel://b:26379/0`` URL, and the db."""
    found, db = [], 0
    for part in url.split(";"):
        parts = urlsplit(part.strip())
        if parts.scheme != "sentinel" or not parts.hostname:
            raise ImproperlyConfigured(f"expected sentinel://host:port[;sentinel://host:port][/db], got {url!r}")
        found.append((parts.hostname, parts.port or 26379))
        if parts.path.strip("/").isdigit():
            db = int(parts.path.strip("/"))
    return found, db


def channel_hosts(url: str, master: str) -> list:
    """channels_redis' ``hosts``: the URL itself, or a Sentinel pool description."""
    if not is_sentinel(url):
        return [url]
    found, db = sentinels(url)
    return [{"sentinels": found, "master_name": master, "db": db}]


def cache_location(url: str) -> str:
    if is_sentinel(url):
        raise ImproperlyConfigured(
            "CACHE_REDIS_URL cannot name Sentinels (Django's Redis cache has no Sentinel support)"
        )
    return url


def client(url: str, master: str, **options):
    """A redis-py client for a role's URL, through its Sentinels when the URL names them."""
    import redis
    from redis.sentinel import Sentinel

    if not is_sentinel(url):
        return redis.Redis.from_url(url, **options)
    found, db = sentinels(url)
    return Sentinel(found, **options).master_for(master, db=db, **options)
