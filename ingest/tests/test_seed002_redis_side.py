"""A tool built on seed 002's Redis side keeps working: payloads and alerts on its channels and timelines."""

import time
import uuid

import orjson
import pytest
import redis
from django.conf import settings as django_settings

from alerts.models import Alert, AlertRule
from monitoring import seed002_redis
from monitoring.models import Sample

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_side(settings):
    """Seed 002's Redis side on, under names of this test's own."""
    tag = uuid.uuid4().hex[:8]
    settings.SEED002_REDIS_COMPAT = True
    settings.REDIS_METRICS_CHANNEL = f"metrics:live:{tag}"
    settings.REDIS_METRICS_KEY = f"metrics:timeline:{tag}"
    settings.REDIS_ALERTS_CHANNEL = f"alerts:live:{tag}"
    settings.REDIS_ALERTS_KEY = f"alerts:timeline:{tag}"
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    yield client
    client.delete(settings.REDIS_METRICS_KEY, settings.REDIS_ALERTS_KEY)


def _subscribe(client, channel: str):
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    pubsub.get_message(timeout=1)  # the subscription's own confirmation
    return pubsub


def _next_message(pubsub, timeout: float = 5) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.2)
        if message:
            return orjson.loads(message["data"])
    raise AssertionError("nothing was published")


def test_a_received_payload_is_published_and_kept_in_the_timeline(redis_side, agent, web01, settings):
    now = int(time.time())
    redis_side.zadd(settings.REDIS_METRICS_KEY, {'{"timestamp": 1}': now - settings.RETENTION_SECONDS - 60})
    live = _subscribe(redis_side, settings.REDIS_METRICS_CHANNEL)
    body = {
        "timestamp": now,
        "total_cpu_percent": 45.2,
        "top_processes": [{"pid": 1234, "name": "chrome.exe", "cpu_percent": 15.5, "memory_mb": 512.3}],
    }

    response = agent.post("/ingest/metrics", body, content_type="application/json")

    assert response.status_code == 200
    published = _next_message(live)
    assert published == {**body, "server_id": str(web01.pk)}
    assert seed002_redis.side.drain()
    timeline = redis_side.zrange(settings.REDIS_METRICS_KEY, 0, -1, withscores=True)
    assert [(orjson.loads(member), score) for member, score in timeline] == [(published, float(now))]  # old one gone


def test_a_retried_payload_is_published_once(redis_side, agent, settings):
    body = {"timestamp": int(time.time()), "total_cpu_percent": 3, "top_processes": []}
    agent.post("/ingest/metrics", body, content_type="application/json")
    assert agent.post("/ingest/metrics", body, content_type="application/json").json()["duplicate"]
    assert seed002_redis.side.drain()
    assert redis_side.zcard(settings.REDIS_METRICS_KEY) == 1


def test_off_by_default_nothing_goes_to_redis(redis_side, agent, settings):
    settings.SEED002_REDIS_COMPAT = False
    body = {"timestamp": int(time.time()), "total_cpu_percent": 3, "top_processes": []}
    assert agent.post("/ingest/metrics", body, content_type="application/json").status_code == 200
    assert seed002_redis.side.drain()
    assert redis_side.zcard(settings.REDIS_METRICS_KEY) == 0


def test_redis_being_down_never_fails_ingest(redis_side, agent, web01, monkeypatch):
    # the side's connection points at a port nobody listens on
    monkeypatch.setattr(seed002_redis.side, "_client", seed002_redis.connect("redis://127.0.0.1:1/0"))
    dropped = seed002_redis.side.dropped
    body = {"timestamp": int(time.time()), "total_cpu_percent": 3, "top_processes": []}

    assert agent.post("/ingest/metrics", body, content_type="application/json").status_code == 200

    assert Sample.objects.filter(series__server=web01).count() == 1
    assert seed002_redis.side.drain()
    assert seed002_redis.side.dropped == dropped + 1


def test_fired_and_resolved_alerts_go_to_the_alerts_channel(
    redis_side, web01, settings, django_capture_on_commit_callbacks, api
):
    rule = AlertRule.objects.create(name="cpu high", metric_type="system", metric_name="cpu_usage", threshold=90)
    alert = Alert.objects.create(
        rule=rule, server=web01, fingerprint=rule.fingerprint(web01.id, {}), value=97, summary="CPU 97% on web-01"
    )
    live = _subscribe(redis_side, settings.REDIS_ALERTS_CHANNEL)
    with django_capture_on_commit_callbacks(execute=True):
        alert.opened()
        alert.fire(97)
    fired = _next_message(live)
    with django_capture_on_commit_callbacks(execute=True):
        alert.resolve(40)
    resolved = _next_message(live)

    assert (fired["rule"], fired["server"], fired["state"], fired["value"]) == ("cpu high", "web-01", "firing", 97)
    assert (resolved["state"], resolved["value"]) == ("resolved", 40)
    # the same shape GET /api/alerts/recent answers
    assert set(fired) == set(api.get("/api/alerts/recent").json()[0])
    assert seed002_redis.side.drain()
    assert redis_side.zcard(settings.REDIS_ALERTS_KEY) == 2
