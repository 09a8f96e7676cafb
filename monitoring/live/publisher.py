"""The publisher: a bounded queue and one background sender thread per process; the project's channel layer.

``publish_write`` only puts the request's batch on the queue (O(1), never
blocks); the thread turns it into frames for the groups somebody watches
(frames.py, watched.py) and sends them with a short timeout. When the queue is
full or Redis is unreachable, frames are dropped and counted, and the thread
backs off: Redis being down or slow never fails or slows ingest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from channels_redis.core import RedisChannelLayer
from django.conf import settings
from prometheus_client.core import CounterMetricFamily, Metric

from monitoring.background import BackgroundSender
from monitoring.live.frames import Frames, frames_for_write, health_frame
from monitoring.live.watched import Watched, WatchedSet, announce, only, watches_groups
from monitoring.records import Batch
from monitoring.storage import WriteResult

log = logging.getLogger(__name__)


async def announce_subscription(layer, name: str) -> None:
    """A socket joined group ``name``: have publishers watch it now rather than at their next re-scan."""
    publisher.subscriptions_changed(name)
    if layer is None or not watches_groups(layer):
        return
    try:
        await announce(layer, name)
    except Exception as exc:  # the publishers still notice at their next re-scan
        log.warning("could not announce a live subscription: %s", exc)


class LiveChannelLayer(RedisChannelLayer):
    """The project's channel layer: a group_add is announced to the live publishers (see announce_subscription)."""

    async def group_add(self, group, channel):
        await super().group_add(group, channel)
        await announce_subscription(self, group)


class Publisher(BackgroundSender):
    """A bounded queue and one background sender thread per process (monitoring/background.py).

    The thread keeps ``watch`` (watched.py): the groups somebody watches, and
    sends only to those.
    """

    thread_name = "live-publisher"

    def __init__(self, size: int = 1000, timeout: float = 1.0, backoff: float = 5.0, layer=None):
        super().__init__(size)
        self._layer = layer  # default: the project's channel layer, bound in the sender thread
        self.size = size
        self.timeout = timeout
        self.backoff = backoff
        self.sent = 0
        self.unwatched = 0  # requests nobody watched: nothing built, nothing sent
        self._down_until = 0.0
        self.watch = WatchedSet()

    @property
    def watched(self) -> Watched | None:
        """The groups somebody watches: None until known, ``EVERYONE`` when the layer cannot tell."""
        return self.watch.groups

    @property
    def refreshes(self) -> int:
        return self.watch.refreshes

    def subscriptions_changed(self, name: str) -> None:
        """A socket of this process joined group ``name``: watched from the next send on."""
        self.watch.joined(name)

    def nobody_watches(self) -> bool:
        """True when, as far as known a moment ago, no group is watched: the request is not even queued."""
        return self.watch.nobody_watches()

    def submit(self, work: Callable[[Watched], Frames]) -> None:
        """Queue a callable that answers [(groups, message)] for a watched set; never blocks, never raises."""
        self.offer(work)

    def handler(self) -> Callable[[Callable[[Watched], Frames]], None]:
        from channels.layers import get_channel_layer

        # the thread's own event loop, and the layer bound to it
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        layer = self._layer or get_channel_layer()
        return lambda work: self._handle(loop, layer, work)

    def _handle(self, loop, layer, work) -> None:
        if time.monotonic() < self._down_until or layer is None:
            self.dropped += 1
            return
        try:
            watched = loop.run_until_complete(asyncio.wait_for(self.watch.read(layer), self.timeout))
            if not watched:
                self.unwatched += 1
                return
            frames = [(groups, message) for groups, message in work(watched) if groups]
            if not frames:
                return
            loop.run_until_complete(asyncio.wait_for(self._send(layer, frames), self.timeout))
            self.sent += len(frames)
        except Exception as exc:  # Redis down or slow: drop, back off, never reach ingest
            self.dropped += 1
            self._down_until = time.monotonic() + self.backoff
            log.warning("live publish failed, pausing %.0fs: %s", self.backoff, exc)

    @staticmethod
    async def _send(layer, frames) -> None:
        # the group rides along so a socket knows which of its subscriptions a frame answers
        sends = [layer.group_send(name, {**message, "group": name}) for groups, message in frames for name in groups]
        if sends:
            await asyncio.gather(*sends)


publisher = Publisher(size=settings.LIVE_QUEUE_SIZE, timeout=settings.LIVE_PUBLISH_TIMEOUT_SECONDS)


def publish_write(batch: Batch, result: WriteResult) -> None:
    """Publish what one request stored to the groups that watch it. Never raises, never blocks."""
    try:
        if publisher.nobody_watches():
            return
        publisher.submit(lambda watched: frames_for_write(batch, result, watched))
    except Exception:  # the live view is a courtesy; ingest has already answered for the data
        log.exception("live publish could not be queued")


def publish_frames(build: Callable[[], Frames]) -> None:
    """Queue frames made elsewhere (alert changes), each to those of its groups somebody watches.

    ``build`` is called here, in the caller's thread (where the database may be
    read), and only when somebody may be watching. Never raises, never blocks.
    """
    try:
        if publisher.nobody_watches():
            return
        built = build()
        publisher.submit(lambda watched: [(only(watched, groups), message) for groups, message in built])
    except Exception:
        log.exception("live frames could not be queued")


def publish_health(service: dict) -> None:
    """Queue a health_update frame with one service's health and log classification (the classification task)."""
    publish_frames(lambda: [health_frame(service)])


def metric_families() -> Iterable[Metric]:
    """For /metrics (registered with monitoring.selfmetrics in MonitoringConfig.ready): this process's frames."""
    yield CounterMetricFamily(
        "console_live_frames_published", "Live frames sent to the channel layer by this process", publisher.sent
    )
    yield CounterMetricFamily(
        "console_live_frames_dropped", "Live frames dropped (queue full, Redis down) in this process", publisher.dropped
    )
