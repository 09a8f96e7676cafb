"""Each Redis role (Celery broker, channel layer, cache) can have its own Redis, or Sentinels in front of one."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from bench.harness import free_port
from config import redis_roles
from config.embedded import EmbeddedRedis

# run in a console process of its own: publishes a channel message, sets a cache key, queues a task
PROBE = textwrap.dedent(
    """
    import django
    django.setup()
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer
    from django.conf import settings
    from django.core.cache import cache
    from config.celery import app

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.send)(channel, {"type": "probe", "text": "hello"})
    assert async_to_sync(layer.receive)(channel)["text"] == "hello"
    cache.set("role-probe", "cached", 60)
    assert cache.get("role-probe") == "cached"
    app.send_task("alerts.tasks.prune", queue="role-probe")
    print(settings.CELERY_BROKER_URL, settings.CHANNEL_REDIS_URL, settings.CACHE_REDIS_URL)
    """
)


def run_probe(env: dict) -> str:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": settings.DATABASE_URL, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def db_url(db: int) -> str:
    return settings.REDIS_URL.rsplit("/", 1)[0] + f"/{db}"


def test_every_role_defaults_to_redis_url():
    assert settings.CELERY_BROKER_URL == settings.CHANNEL_REDIS_URL == settings.CACHE_REDIS_URL == settings.REDIS_URL


def test_each_role_uses_its_own_redis():
    for db in (11, 12, 13):
        redis.Redis.from_url(db_url(db)).flushdb()
    roles = {"CELERY_BROKER_URL": db_url(11), "CHANNEL_REDIS_URL": db_url(12), "CACHE_REDIS_URL": db_url(13)}
    run_probe({"REDIS_URL": db_url(10), **roles})
    assert redis.Redis.from_url(db_url(11)).llen("role-probe") == 1  # the task, on the broker
    assert redis.Redis.from_url(db_url(13)).keys("*role-probe*")  # the cache key
    assert not redis.Redis.from_url(db_url(12)).keys("*role-probe*")
    assert not redis.Redis.from_url(db_url(10)).keys("*role-probe*")


def test_sentinel_urls_are_read_as_kombu_writes_them():
    assert redis_roles.sentinels("sentinel://a:26379;sentinel://b:26380/2") == ([("a", 26379), ("b", 26380)], 2)
    assert redis_roles.channel_hosts("sentinel://a:26379", "main") == [
        {"sentinels": [("a", 26379)], "master_name": "main", "db": 0}
    ]
    assert redis_roles.channel_hosts("redis://r:6379/1", "main") == ["redis://r:6379/1"]
    with pytest.raises(ImproperlyConfigured):
        redis_roles.cache_location("sentinel://a:26379")
    with pytest.raises(ImproperlyConfigured):
        redis_roles.sentinels("redis://a:6379")


@pytest.fixture
def sentinel(tmp_path):
    """A real Redis Sentinel (the embedded Redis binary in sentinel mode) watching the test Redis as "main"."""
    redis_port = int(settings.REDIS_URL.rsplit(":", 1)[1].split("/")[0])
    port = free_port()
    config = tmp_path / "sentinel.conf"
    config.write_text(f"port {port}\nbind 127.0.0.1\nsentinel monitor main 127.0.0.1 {redis_port} 1\n")
    binary = EmbeddedRedis(Path(settings.DATA_DIR)).binary
    process = subprocess.Popen([str(binary), str(config), "--sentinel"], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if redis.Redis(port=port).sentinel_get_master_addr_by_name("main"):
                    break
            except redis.ConnectionError:
                pass
            assert time.monotonic() < deadline, "sentinel did not start"
            time.sleep(0.2)
        yield f"sentinel://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def test_the_broker_and_channel_layer_reach_redis_through_sentinels(sentinel):
    redis.Redis.from_url(db_url(14)).delete("role-probe")
    run_probe(
        {
            "REDIS_URL": db_url(10),
            "CELERY_BROKER_URL": f"{sentinel}/14",
            "CHANNEL_REDIS_URL": f"{sentinel}/15",
            "REDIS_SENTINEL_MASTER": "main",
        }
    )
    assert redis.Redis.from_url(db_url(14)).llen("role-probe") == 1
