"""The set of groups somebody watches: frames are built and sent only for those.

The publisher keeps the set of watched groups (the channels_redis group keys
``<prefix>:group:<name>``, found by SCAN) and builds and sends frames only for
those. The set is read again at most every ``WATCH_REFRESH_SECONDS`` (1 s); in
between, a socket that subscribes bumps ``<prefix>:live:generation``, which the
publisher GETs at most every ``WATCH_CHECK_SECONDS`` (0.1 s) while requests
arrive, and a socket in the same process tells the publisher directly
(``LiveChannelLayer.group_add``, the project's CHANNEL_LAYERS backend, does
both). While nobody watches anything, ``publish_write`` returns without
queueing. A client that has just subscribed may miss the frames of up to ~1 s
(in practice ~0.1 s, or none when the socket is served by the ingesting process).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

WATCH_REFRESH_SECONDS = 1.0  # the watched set is read again (SCAN) at most this often
WATCH_CHECK_SECONDS = 0.1  # the subscription generation is checked at most this often

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


def watches_groups(layer) -> bool:
    """Whether the layer keeps its groups where the publisher can see who watches (channels_redis)."""
    return all(hasattr(layer, name) for name in ("prefix", "ring_size", "connection", "_group_key"))


class WatchedSet:
    """What one publisher knows of who watches.

    ``groups`` is None until known, ``EVERYONE`` when the layer cannot tell.
    """

    def __init__(self) -> None:
        self.groups: Watched | None = None
        self.refreshes = 0
        self.changed = False  # a socket of this process subscribed since the last read
        self._refreshed_at = 0.0
        self._checked_at = 0.0
        self._generation = None

    def nobody_watches(self) -> bool:
        """True when, as far as known a moment ago, no group is watched."""
        return (
            not self.groups
            and self.groups is not None
            and not self.changed
            and time.monotonic() - self._checked_at < WATCH_CHECK_SECONDS
        )

    async def read(self, layer) -> Watched:
        """The groups somebody watches, read again when stale or when a subscription was announced."""
        if not watches_groups(layer):
            self.groups = EVERYONE
            return EVERYONE
        now = time.monotonic()
        stale = self.groups is None or self.changed or now - self._refreshed_at >= WATCH_REFRESH_SECONDS
        if not stale and now - self._checked_at >= WATCH_CHECK_SECONDS:
            stale = await layer.connection(0).get(generation_key(layer)) != self._generation
            self._checked_at = now
        if stale:
            self.changed = False
            try:
                generation = await layer.connection(0).get(generation_key(layer))
                self.groups = await _scan(layer)
            except BaseException:  # read again once Redis answers
                self.changed = True
                raise
            self._generation = generation
            self._refreshed_at = self._checked_at = time.monotonic()
            self.refreshes += 1
        assert self.groups is not None
        return self.groups


async def _scan(layer) -> frozenset[str]:
    prefix = layer._group_key("").decode()
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*"  # the prefix taken literally
    names = set()
    for index in range(layer.ring_size):
        async for key in layer.connection(index).scan_iter(match=pattern, count=1000):
            names.add(key.decode()[len(prefix) :])
    return frozenset(names)
