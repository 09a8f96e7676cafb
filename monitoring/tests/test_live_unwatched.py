"""Nobody watching costs ingest (nearly) nothing; somebody who starts watching gets frames promptly."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels_redis.core import RedisChannelLayer
from django.conf import settings

from monitoring import records, storage
from monitoring.live import publisher as publishing
from monitoring.live import watched
from monitoring.live.frames import frames_for_write
from monitoring.live.groups import group

pytestmark = pytest.mark.django_db(transaction=True)


class CountingLayer(publishing.LiveChannelLayer):
    """The real layer, counting the group_send calls it makes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.group_sends = 0

    async def group_send(self, group, message):
        self.group_sends += 1
        await super().group_send(group, message)


@pytest.fixture
def layer(monkeypatch):
    """A real Redis layer of its own (own prefix: other tests' groups stay out) with its own publisher."""
    layer = CountingLayer(hosts=[settings.REDIS_URL], prefix=f"t{uuid.uuid4().hex[:8]}")
    monkeypatch.setattr(publishing, "publisher", publishing.Publisher(size=100, timeout=1.0, layer=layer))
    return layer


def _store(server, value: float = 1.0) -> None:
    batch = records.Batch()
    now = datetime.now(UTC)
    batch.add_sample(server.pk, "cpu", "usage", {}, now, value)
    batch.logs.append(records.LogRecord(now, server.pk, "checkout", "INFO", "hello", {}, "test"))
    batch.seen[str(server.pk)] = now
    publishing.publish_write(batch, storage.write(batch))


def _first_frame_while_storing(layer, channel: str, server, within: float):
    """Store a request every 50 ms until the channel gets a frame; answers (frame, seconds it took)."""

    async def scenario():
        started = time.monotonic()
        pending = asyncio.ensure_future(layer.receive(channel))
        try:
            while time.monotonic() - started < within:
                await sync_to_async(_store)(server)
                done, _ = await asyncio.wait({pending}, timeout=0.05)
                if done:
                    return pending.result(), time.monotonic() - started
            return None, time.monotonic() - started
        finally:
            pending.cancel()

    return async_to_sync(scenario)()


def _receive(layer, channel: str, timeout: float):
    async def receive():
        try:
            return await asyncio.wait_for(layer.receive(channel), timeout)
        except TimeoutError:
            return None

    return async_to_sync(receive)()


def test_with_nobody_watching_ingest_sends_nothing_and_queues_almost_nothing(web01, layer):
    for value in range(30):
        _store(web01, value)
    assert publishing.publisher.drain()
    assert layer.group_sends == 0
    assert publishing.publisher.sent == 0
    assert publishing.publisher.watched == frozenset()
    # only the requests that came when the watched set was due for a check reached the thread
    assert publishing.publisher.unwatched < 30


def test_a_socket_that_subscribes_gets_the_next_frame_at_once(web01, layer):
    _store(web01)  # the publisher now knows nobody watches
    assert publishing.publisher.drain()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group("metrics.server", web01.pk), channel)
    _store(web01, 7.0)
    message = _receive(layer, channel, 1)
    assert message is not None and message["kind"] == "metrics"
    assert message["group"] == group("metrics.server", web01.pk)
    # only the watched group got frames: not metrics, fleet, logs or health
    assert publishing.publisher.drain()
    assert layer.group_sends == 3  # metrics, server_update and log_processed frames, all to the server's group


def test_a_subscriber_in_another_process_is_noticed_within_a_second(web01, layer):
    _store(web01)
    assert publishing.publisher.drain()
    # another process's layer: no announcement reaches this publisher directly
    elsewhere = RedisChannelLayer(hosts=[settings.REDIS_URL], prefix=layer.prefix)
    channel = async_to_sync(elsewhere.new_channel)()
    async_to_sync(elsewhere.group_add)("logs", channel)
    message, took = _first_frame_while_storing(elsewhere, channel, web01, 2 * watched.WATCH_REFRESH_SECONDS)
    assert message is not None and message["kind"] == "log_processed"
    assert took < watched.WATCH_REFRESH_SECONDS + 0.5


def test_an_announced_subscription_in_another_process_is_noticed_within_a_check(web01, layer):
    _store(web01)
    assert publishing.publisher.drain()
    elsewhere = publishing.LiveChannelLayer(hosts=[settings.REDIS_URL], prefix=layer.prefix)
    channel = async_to_sync(elsewhere.new_channel)()
    async_to_sync(elsewhere.group_add)("health", channel)
    publishing.publisher.watch.added.clear()  # as if the group_add happened in another process: only announced
    message, took = _first_frame_while_storing(elsewhere, channel, web01, 2 * watched.WATCH_REFRESH_SECONDS)
    assert message is not None and message["kind"] == "health_update"
    assert took < watched.WATCH_REFRESH_SECONDS / 2


def test_a_layer_that_cannot_tell_who_watches_gets_every_frame(web01, monkeypatch):
    from channels.layers import InMemoryChannelLayer

    memory = InMemoryChannelLayer()
    monkeypatch.setattr(publishing, "publisher", publishing.Publisher(size=100, timeout=1.0, layer=memory))
    _store(web01)
    assert publishing.publisher.drain()
    assert publishing.publisher.watched is watched.EVERYONE
    assert publishing.publisher.sent > 0


def test_the_fleet_page_alone_gets_headline_figures_and_health_but_no_series(web01):
    batch = records.Batch()
    now = datetime.now(UTC)
    batch.add_sample(web01.pk, "cpu", "usage", {}, now, 12.0)
    batch.add_sample(web01.pk, "net", "rx", {"nic": "eth0"}, now, 3.0)
    batch.seen[str(web01.pk)] = now
    result = storage.write(batch)
    frames = frames_for_write(batch, result, frozenset({"fleet"}))
    assert sorted(message["kind"] for _, message in frames) == ["health_update", "server_update"]
    assert all(groups == ["fleet"] for groups, _ in frames)
    assert frames_for_write(batch, result, frozenset({"alerts"})) == []
    everything = frames_for_write(batch, result)
    assert {message["kind"] for _, message in everything} == {"metrics", "server_update", "health_update"}


class Clock:
    """Monotonic seconds a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_subscription_storm_costs_at_most_one_rescan_a_second(layer):
    clock = Clock()
    watch = watched.WatchedSet(clock=clock)
    elsewhere = publishing.LiveChannelLayer(hosts=[settings.REDIS_URL], prefix=layer.prefix)

    async def storm():
        channel = await elsewhere.new_channel()
        joined_here_seen = 0
        for step in range(300):  # 3 s of subscriptions, one every 10 ms, half here and half elsewhere
            name = f"logs.service.storm-{step}"
            await elsewhere.group_add(name, channel)  # announced to every publisher
            if step % 2:
                watch.joined(name)  # a socket of this process
            clock.now += 0.01
            groups = await watch.read(layer)
            joined_here_seen += step % 2 == 1 and name in groups
        clock.now += watched.WATCH_CHECK_SECONDS
        return joined_here_seen, await watch.read(layer)

    joined_here_seen, groups = async_to_sync(storm)()

    assert watch.refreshes <= 4  # the first read, then at most one a second
    assert joined_here_seen == 150  # a socket of this process is watched at once
    assert {f"logs.service.storm-{step}" for step in range(300)} <= groups  # the others within a check
