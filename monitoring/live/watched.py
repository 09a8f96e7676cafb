"""The set of groups somebody watches: frames are built and sent only for those.

The publisher keeps the set of watched groups (the channels_redis group keys
``<prefix>:group:<name>``, found by SCAN) and builds and sends frames only for
those. The whole set is read again (SCAN) at most every ``WATCH_REFRESH_SECONDS``
(1 s), however many sockets subscribe: a storm of subscriptions costs one
re-scan a second per process at most. In between, a socket that subscribes adds
its group to ``<prefix>:live:announced`` under a new ``<prefix>:live:generation``;
the publisher GETs the generation at most every ``WATCH_CHECK_SECONDS`` (0.1 s)
while requests arrive and, when it moved, reads just the groups announced since.
A socket in the same process tells the publisher directly
(``LiveChannelLayer.group_add``, the project's CHANNEL_LAYERS backend, does
both). While nobody watches anything, ``publish_write`` returns without
queueing. A client that has just subscribed may miss the frames of up to ~0.1 s
(none when the socket is served by the ingesting process; ~1 s at worst, when an
announcement is read between its two writes). Groups nobody watches any more
leave the set at the next re-scan.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable

WATCH_REFRESH_SECONDS = 1.0  # the watched set is read again (SCAN) at most this often
WATCH_CHECK_SECONDS = 0.1  # the subscription generation is checked at most this often
ANNOUNCEMENTS_KEPT = 10_000  # announced groups kept for publishers that check late (then they re-scan)

_KEYED_KINDS = ("metrics.server", "metrics.type", "logs.service")
_EVERY_KIND = {"metrics", "metrics.server", "metrics.type", "fleet", "logs", "logs.service", "events", "health"}


class _Everyone:
    """The watched set when it is not known: every group is watched."""

    def __contains__(self, name: str) -> bool:
        return True


EVERYONE = _Everyone()

Watched = frozenset[str] | _Everyone


def watched_kinds(watched: Watched) -> set[str]:
    """The group kinds (``metrics.server``, ``logs``, ...) among watched groups."""
    if watched is EVERYONE:
        return set(_EVERY_KIND)
    kinds = set()
    for name in watched:  # type: ignore[union-attr]
        kinds.add(next((kind for kind in _KEYED_KINDS if name.startswith(kind + ".")), name))
    return kinds


def only(watched: Watched, names: Iterable[str]) -> list[str]:
    """The names among ``names`` somebody watches."""
    return [name for name in names if name in watched]


def generation_key(layer) -> str:
    return f"{layer.prefix}:live:generation"


def announced_key(layer) -> str:
    return f"{layer.prefix}:live:announced"


async def announce(layer, name: str) -> None:
    """Tell every publisher that ``name`` is watched now: a new generation, the group announced under it."""
    connection = layer.connection(0)
    generation = await connection.incr(generation_key(layer))
    async with connection.pipeline(transaction=True) as pipe:
        pipe.zadd(announced_key(layer), {name: generation})
        pipe.zremrangebyscore(announced_key(layer), "-inf", generation - ANNOUNCEMENTS_KEPT)
        await pipe.execute()


def watches_groups(layer) -> bool:
    """Whether the layer keeps its groups where the publisher can see who watches (channels_redis)."""
    return all(hasattr(layer, name) for name in ("prefix", "ring_size", "connection", "_group_key"))


class WatchedSet:
    """What one publisher knows of who watches.

    ``groups`` is None until known, ``EVERYONE`` when the layer cannot tell.
    ``clock`` is injectable for tests (monotonic seconds).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.groups: Watched | None = None
        self.refreshes = 0
        self.added: set[str] = set()  # groups a socket of this process joined since the last read
        self.clock = clock
        self._refreshed_at = -math.inf
        self._checked_at = -math.inf
        self._generation: int | None = None

    def joined(self, name: str) -> None:
        """A socket of this process joined ``name``: watched from the next read on, without a re-scan."""
        self.added.add(name)

    def nobody_watches(self) -> bool:
        """True when, as far as known a moment ago, no group is watched."""
        return (
            not self.groups
            and self.groups is not None
            and not self.added
            and self.clock() - self._checked_at < WATCH_CHECK_SECONDS
        )

    async def read(self, layer) -> Watched:
        """The groups somebody watches: re-scanned at most every WATCH_REFRESH_SECONDS, announcements in between."""
        if not watches_groups(layer):
            self.groups, self.added = EVERYONE, set()
            return EVERYONE
        now = self.clock()
        if self.groups is None or now - self._refreshed_at >= WATCH_REFRESH_SECONDS:
            await self._rescan(layer)
        elif now - self._checked_at >= WATCH_CHECK_SECONDS:
            await self._read_announcements(layer)
        if self.added:
            added, self.added = self.added, set()  # swapped first: a join from another thread lands in one of them
            self.groups = frozenset(self.groups) | added  # type: ignore[arg-type]
        assert self.groups is not None
        return self.groups

    async def _rescan(self, layer) -> None:
        generation = await _generation(layer)
        self.groups = await _scan(layer)
        self._generation = generation
        self._refreshed_at = self._checked_at = self.clock()
        self.refreshes += 1

    async def _read_announcements(self, layer) -> None:
        generation = await _generation(layer)
        self._checked_at = self.clock()
        if generation == self._generation:
            return
        since = self._generation or 0
        names = await layer.connection(0).zrangebyscore(announced_key(layer), f"({since}", "+inf")
        if since and generation - since >= ANNOUNCEMENTS_KEPT:  # some were trimmed meanwhile: read them all
            self._refreshed_at = -math.inf
        self.groups = frozenset(self.groups) | {name.decode() for name in names}  # type: ignore[arg-type]
        self._generation = generation


async def _generation(layer) -> int:
    return int(await layer.connection(0).get(generation_key(layer)) or 0)


async def _scan(layer) -> frozenset[str]:
    prefix = layer._group_key("").decode()
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*"  # the prefix taken literally
    names = set()
    for index in range(layer.ring_size):
        async for key in layer.connection(index).scan_iter(match=pattern, count=1000):
            names.add(key.decode()[len(prefix) :])
    return frozenset(names)
