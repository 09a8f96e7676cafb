"""Live publishing: one coalesced message per ingest request to the channel layer.

Best-effort by design: Redis being down or slow never fails or slows ingest.
``publish_write`` only puts the request's batch on a bounded in-process queue
(O(1), never blocks); one background thread with its own event loop turns it
into frames and sends them with a short timeout. When the queue is full or
Redis is unreachable, frames are dropped and counted, and the thread backs off.

Groups (see ``group``):
  metrics                every metrics frame           (WS /api/v1/stream, /ws/metrics)
  metrics.server.<id>    one server's metrics frames   (?server_id=, subscribe server)
  metrics.type.<type>    one metric type's frames      (?metric_type=)
  fleet                  one small summary per server per request (fleet page)
  logs                   every log_processed frame     (WS /api/ws/live)
  logs.service.<name>    one service's log frames      (WS /api/ws/logs/<name>, subscribe service_logs)
  events                 evaluated events (event monitor), also per server
  health                 health_update frames          (WS /api/ws/health)
  alerts                 alert_triggered frames        (WS /api/ws/alerts)

Every frame sent to a group is ``{"type": "live.frame", "id", "kind", "group", "text": <JSON>}``;
the JSON text is encoded once here, consumers forward it as is. The same
frame may be sent to several groups under one id, so a socket subscribed to
two of them forwards it once.

Unwatched groups cost (nearly) nothing. The publisher keeps the set of groups
somebody watches (the channels_redis group keys ``<prefix>:group:<name>``,
found by SCAN) and builds and sends frames only for those. The set is read
again at most every ``WATCH_REFRESH_SECONDS`` (1 s); in between, a socket that
subscribes bumps ``<prefix>:live:generation``, which the publisher GETs at most
every ``WATCH_CHECK_SECONDS`` (0.1 s) while requests arrive, and a socket in the
same process tells the publisher directly (``LiveChannelLayer.group_add``, the
project's CHANNEL_LAYERS backend, does both). While nobody watches anything,
``publish_write`` returns without queueing. A client that has just subscribed
may miss the frames of up to ~1 s (in practice ~0.1 s, or none when the socket
is served by the ingesting process).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import itertools
import logging
import queue
import re
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime

import orjson
from channels_redis.core import RedisChannelLayer
from django.conf import settings

from monitoring.storage import Batch, WriteResult

log = logging.getLogger(__name__)

_GROUP_SAFE = re.compile(r"^[A-Za-z0-9_.\-]{1,60}$")
# the most log lines and points one frame carries; a frame says how many it left out
MAX_LOG_LINES = 50
MAX_POINTS = 2000

HEADLINE_KINDS = ("cpu", "memory", "disk")


def group(kind: str, key: str | None = None) -> str:
    """A channel-layer group name; keys outside Channels' alphabet are hashed."""
    if key is None:
        return kind
    key = str(key)
    if not _GROUP_SAFE.match(key):
        key = "h" + hashlib.blake2b(key.encode(), digest_size=12).hexdigest()
    return f"{kind}.{key}"


@functools.lru_cache(maxsize=65536)
def headline_kind(metric_type: str, name: str) -> str | None:
    """cpu, memory or disk when a series is one of a server's headline figures, else None.

    Agents name them differently (seed 000 ``cpu_usage``, seed 001 ``cpu``/``usage``,
    seed 002 ``total_cpu_percent``, node exporter style ``memory_used_percent``).
    """
    text = f"{metric_type}.{name}".lower()
    if any(word in text for word in ("temperature", "temp", "bytes", "count", "load", "iowait", "io_")):
        return None
    if "cpu" in text:
        return "cpu"
    if "mem" in text or "ram" in text:
        return "memory"
    if "disk" in text or "filesystem" in text or text.startswith("fs."):
        return "disk"
    return None


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


_ids = itertools.count(1)


def _frame_id() -> str:
    return f"{_process_tag}-{next(_ids)}"


_process_tag = hashlib.blake2b(f"{time.time_ns()}".encode(), digest_size=4).hexdigest()


def frame(body: dict) -> tuple[str, dict]:
    """A channel-layer message carrying ``body`` encoded once; answers (id, message)."""
    frame_id = _frame_id()
    message = {"type": "live.frame", "id": frame_id, "kind": body["type"], "text": orjson.dumps(body).decode()}
    return frame_id, message


class _Everyone:
    """The watched set when it is not known: every group is watched."""

    def __contains__(self, name: str) -> bool:
        return True


EVERYONE = _Everyone()


def _watched_kinds(watched) -> set[str]:
    """The group kinds (``metrics.server``, ``logs``, ...) among watched groups."""
    if watched is EVERYONE:
        return {"metrics", "metrics.server", "metrics.type", "fleet", "logs", "logs.service", "events", "health"}
    kinds = set()
    for name in watched:
        kinds.add(next((kind for kind in _KEYED_KINDS if name.startswith(kind + ".")), name))
    return kinds


_KEYED_KINDS = ("metrics.server", "metrics.type", "logs.service")


def _only(watched, names: list[str]) -> list[str]:
    return [name for name in names if name in watched]


def frames_for_write(batch: Batch, result: WriteResult, watched=EVERYONE) -> list[tuple[list[str], dict]]:
    """The frames one stored request produces, each with the watched groups it goes to.

    ``watched`` (a set of group names) leaves out frames nobody watches, before they are built.
    """
    out: list[tuple[list[str], dict]] = []
    kinds = _watched_kinds(watched)
    now = _iso(datetime.now(UTC))
    if kinds & {"metrics", "metrics.server", "metrics.type", "fleet"}:
        out.extend(_metric_frames(batch, result, now, watched, kinds))
    if kinds & {"logs", "logs.service", "metrics.server"}:
        out.extend(_log_frames(batch, now, watched))
    if kinds & {"events", "metrics.server"}:
        out.extend(_event_frames(batch, result, watched))
    if kinds & {"health", "fleet"}:
        out.extend(_health_frames(batch, now, watched))
    return out


def _metric_frames(batch: Batch, result: WriteResult, now: str, watched, kinds: set[str]) -> list[tuple]:
    out: list[tuple[list[str], dict]] = []
    ids = {key: series_id for series_id, key in result.series.items()}
    iso: dict[datetime, str] = {}  # a request's samples share few timestamps: format each once
    # samples by server, then by series
    by_server: dict[str, dict[tuple, list]] = defaultdict(lambda: defaultdict(list))
    for key, ts, value in batch.samples:
        by_server[key[0]][key].append((ts, value))
    typed_watched = "metrics.type" in kinds
    for server_id, series in by_server.items():
        main = _only(watched, [group("metrics"), group("metrics.server", server_id)])
        headline_groups = _only(watched, [group("fleet"), group("metrics.server", server_id)])
        if not (main or headline_groups or typed_watched):
            continue
        want_entries = bool(main) or typed_watched  # the fleet page alone needs only the headline figures
        entries = []
        by_type: dict[str, list] = defaultdict(list)
        headline: dict[str, tuple[int, datetime, float]] = {}
        budget = MAX_POINTS
        left_out = 0
        for key, points in series.items():
            _, metric_type, name, labels = key
            points.sort(key=lambda p: p[0])
            kept = points[-budget:] if budget > 0 else []
            left_out += len(points) - len(kept)
            budget -= len(kept)
            if kept and want_entries:
                entry = {
                    "series_id": ids.get(key),
                    "metric_type": metric_type,
                    "metric_name": name,
                    "labels": orjson.loads(labels),
                    "points": [[iso.get(ts) or iso.setdefault(ts, _iso(ts)), value] for ts, value in kept],
                }
                entries.append(entry)
                by_type[metric_type].append(entry)
            kind = headline_kind(metric_type, name)
            if kind:
                rank = 0 if labels == b"{}" else 1
                ts, value = points[-1]
                if kind not in headline or (rank, -ts.timestamp()) < (
                    headline[kind][0],
                    -headline[kind][1].timestamp(),
                ):
                    headline[kind] = (rank, ts, value)
        body = {"type": "metrics", "server_id": server_id, "received_at": now, "series": entries}
        if left_out:
            body["left_out"] = left_out
        if main:
            _, message = frame(body)
            out.append((main, message))
        for metric_type, typed in by_type.items():
            if group("metrics.type", metric_type) in watched:
                _, message = frame({**body, "series": typed, "metric_type": metric_type})
                out.append(([group("metrics.type", metric_type)], message))
        if headline and headline_groups:
            summary = {kind: value for kind, (_, _, value) in headline.items()}
            _, message = frame({"type": "server_update", "server_id": server_id, "latest": summary, "at": now})
            out.append((headline_groups, message))
    return out


def _log_frames(batch: Batch, now: str, watched=EVERYONE) -> list[tuple[list[str], dict]]:
    by_service: dict[str, list] = defaultdict(list)
    for record in batch.logs:
        by_service[record.service].append(record)
    out = []
    for service, records in by_service.items():
        server_id = str(records[-1].server_id) if records[-1].server_id else None
        groups = [group("logs"), group("logs.service", service)]
        if server_id:
            groups.append(group("metrics.server", server_id))
        groups = _only(watched, groups)
        if not groups:
            continue
        levels: dict[str, int] = defaultdict(int)
        for record in records:
            levels[record.level] += 1
        shown = records[-MAX_LOG_LINES:]
        body = {
            "type": "log_processed",
            "data": {
                "service": service,
                "server_id": server_id,
                "count": len(records),
                "levels": dict(levels),
                "processed_at": now,
                "logs": [
                    {
                        "timestamp": _iso(r.ts),
                        "level": r.level,
                        "message": r.message[:2000],
                        "service": r.service,
                        "server_id": str(r.server_id) if r.server_id else None,
                        "metadata": r.metadata,
                    }
                    for r in shown
                ],
                "left_out": len(records) - len(shown),
            },
        }
        _, message = frame(body)
        out.append((groups, message))
    return out


def _event_frames(batch: Batch, result: WriteResult, watched=EVERYONE) -> list[tuple[list[str], dict]]:
    out = []
    for index, event in enumerate(batch.events[:MAX_LOG_LINES]):
        server_id = str(event.server_id) if event.server_id else None
        groups = [group("events")]
        if server_id:
            groups.append(group("metrics.server", server_id))
        groups = _only(watched, groups)
        if not groups:
            continue
        body = {
            "type": "event_processed",
            "data": {
                "id": result.event_ids[index] if index < len(result.event_ids) else None,
                "timestamp": _iso(event.ts),
                "server_id": server_id,
                "source": event.source,
                "event_type": event.event_type,
                "status": event.status,
                "severity": event.severity,
                "reasons": event.reasons,
                "suggestions": event.suggestions,
                "decision": event.decision,
            },
        }
        _, message = frame(body)
        out.append((groups, message))
    return out


def _health_frames(batch: Batch, now: str, watched=EVERYONE) -> list[tuple[list[str], dict]]:
    out = []
    groups = _only(watched, [group("health"), group("fleet")])
    if not groups:
        return out
    services: dict[str | None, dict] = {}
    for record in batch.logs:
        entry = services.setdefault(str(record.server_id) if record.server_id else None, {"service": record.service})
        entry["logs"] = entry.get("logs", 0) + 1
        if record.level in ("ERROR", "CRITICAL"):
            entry["errors"] = entry.get("errors", 0) + 1
    for server_id, last in batch.seen.items():
        data = {"server_id": str(server_id), "status": "up", "last_seen": _iso(last), "updated_at": now}
        data.update(services.get(str(server_id), {}))
        _, message = frame({"type": "health_update", "data": data})
        out.append((groups, message))
    return out


def alert_frame(alert, event: str) -> tuple[list[str], dict]:
    """The alert_triggered frame for an alert that changed (seed 004's message type)."""

    def attr(name, default=None):
        value = getattr(alert, name, default)
        if isinstance(value, datetime):
            return _iso(value)
        return value

    rule = getattr(alert, "rule", None)
    server_id = attr("server_id")
    as_dict = getattr(alert, "as_dict", None)
    body = {
        "type": "alert_triggered",
        "event": event,
        "data": as_dict()
        if callable(as_dict)
        else {
            "id": attr("pk"),
            "state": attr("state"),
            "severity": attr("severity") or getattr(rule, "severity", None),
            "rule": getattr(rule, "name", None),
            "server_id": str(server_id) if server_id else None,
            "summary": attr("summary") or "",
            "value": attr("value"),
            "labels": attr("labels") or {},
            "started_at": attr("started_at"),
            "fired_at": attr("fired_at"),
            "resolved_at": attr("resolved_at"),
            "acknowledged_at": attr("acknowledged_at"),
        },
    }
    groups = [group("alerts")]
    if server_id:
        groups.append(group("metrics.server", server_id))
    _, message = frame(body)
    return groups, message


WATCH_REFRESH_SECONDS = 1.0  # the watched set is read again (SCAN) at most this often
WATCH_CHECK_SECONDS = 0.1  # the subscription generation is checked at most this often


def _generation_key(layer) -> str:
    return f"{layer.prefix}:live:generation"


def watches_groups(layer) -> bool:
    """Whether the layer keeps its groups where the publisher can see who watches (channels_redis)."""
    return all(hasattr(layer, name) for name in ("prefix", "ring_size", "connection", "_group_key"))


async def announce_subscription(layer) -> None:
    """A socket joined a group: have publishers notice it now rather than at their next refresh."""
    publisher.subscriptions_changed()
    if layer is None or not watches_groups(layer):
        return
    try:
        await layer.connection(0).incr(_generation_key(layer))
    except Exception as exc:  # the publisher still notices at its next refresh
        log.warning("could not announce a live subscription: %s", exc)


class LiveChannelLayer(RedisChannelLayer):
    """The project's channel layer: a group_add is announced to the live publishers (see announce_subscription)."""

    async def group_add(self, group, channel):
        await super().group_add(group, channel)
        await announce_subscription(self)


class Publisher:
    """A bounded queue and one background sender thread per process.

    The thread keeps ``watched``: the groups somebody watches (None until known,
    ``EVERYONE`` when the layer cannot tell), and sends only to those.
    """

    def __init__(self, size: int = 1000, timeout: float = 1.0, backoff: float = 5.0, layer=None):
        self._layer = layer  # default: the project's channel layer, bound in the sender thread
        self.size = size
        self.timeout = timeout
        self.backoff = backoff
        self.dropped = 0
        self.sent = 0
        self.unwatched = 0  # requests nobody watched: nothing built, nothing sent
        self.refreshes = 0
        self._queue: queue.Queue = queue.Queue(maxsize=size)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._down_until = 0.0
        self.watched: frozenset[str] | _Everyone | None = None
        self._refreshed_at = 0.0
        self._checked_at = 0.0
        self._generation = None
        self._changed = False

    def subscriptions_changed(self) -> None:
        """A socket of this process subscribed: read the watched set before the next send."""
        self._changed = True

    def nobody_watches(self) -> bool:
        """True when, as far as known a moment ago, no group is watched: the request is not even queued."""
        return (
            not self.watched
            and self.watched is not None
            and not self._changed
            and time.monotonic() - self._checked_at < WATCH_CHECK_SECONDS
        )

    def submit(self, work) -> None:
        """Queue a callable that answers [(groups, message)] for a watched set; never blocks, never raises."""
        self._ensure_thread()
        try:
            self._queue.put_nowait(work)
        except queue.Full:
            self.dropped += 1

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="live-publisher", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        from channels.layers import get_channel_layer

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        layer = self._layer or get_channel_layer()
        while True:
            work = self._queue.get()
            try:
                if work is None:
                    break
                self._handle(loop, layer, work)
            finally:
                self._queue.task_done()
        loop.close()

    def _handle(self, loop, layer, work) -> None:
        if time.monotonic() < self._down_until or layer is None:
            self.dropped += 1
            return
        try:
            watched = loop.run_until_complete(asyncio.wait_for(self._watched(layer), self.timeout))
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

    async def _watched(self, layer):
        """The groups somebody watches, read again when stale or when a subscription was announced."""
        if not watches_groups(layer):
            self.watched = EVERYONE
            return EVERYONE
        now = time.monotonic()
        stale = self.watched is None or self._changed or now - self._refreshed_at >= WATCH_REFRESH_SECONDS
        if not stale and now - self._checked_at >= WATCH_CHECK_SECONDS:
            stale = await layer.connection(0).get(_generation_key(layer)) != self._generation
            self._checked_at = now
        if stale:
            self._changed = False
            try:
                generation = await layer.connection(0).get(_generation_key(layer))
                self.watched = await self._scan(layer)
            except BaseException:  # read again once Redis answers
                self._changed = True
                raise
            self._generation = generation
            self._refreshed_at = self._checked_at = time.monotonic()
            self.refreshes += 1
        return self.watched

    @staticmethod
    async def _scan(layer) -> frozenset[str]:
        prefix = layer._group_key("").decode()
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*"  # the prefix taken literally
        names = set()
        for index in range(layer.ring_size):
            async for key in layer.connection(index).scan_iter(match=pattern, count=1000):
                names.add(key.decode()[len(prefix) :])
        return frozenset(names)

    @staticmethod
    async def _send(layer, frames) -> None:
        # the group rides along so a socket knows which of its subscriptions a frame answers
        sends = [layer.group_send(name, {**message, "group": name}) for groups, message in frames for name in groups]
        if sends:
            await asyncio.gather(*sends)

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far was handled (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False


publisher = Publisher(size=settings.LIVE_QUEUE_SIZE, timeout=settings.LIVE_PUBLISH_TIMEOUT_SECONDS)


def publish_write(batch: Batch, result: WriteResult) -> None:
    """Publish what one request stored to the groups that watch it. Never raises, never blocks."""
    try:
        if publisher.nobody_watches():
            return
        publisher.submit(lambda watched: frames_for_write(batch, result, watched))
    except Exception:  # the live view is a courtesy; ingest has already answered for the data
        log.exception("live publish could not be queued")


def publish_health(service: dict) -> None:
    """Queue a health_update frame with one service's health and log classification (the classification task)."""
    try:
        if publisher.nobody_watches():
            return
        body = {"type": "health_update", "data": {**service, "service": service.get("service_name")}}
        built = [([group("health"), group("logs.service", service.get("service_name"))], frame(body)[1])]
        publisher.submit(lambda watched: [(_only(watched, groups), message) for groups, message in built])
    except Exception:
        log.exception("live health publish could not be queued")


def publish_alert(alert, event: str) -> None:
    """Queue an alert_triggered frame (called from the alerts app's signals)."""
    try:
        if publisher.nobody_watches():
            return
        built = [alert_frame(alert, event)]  # here, where the alert's rule may be read from the database
        publisher.submit(lambda watched: [(_only(watched, groups), message) for groups, message in built])
    except Exception:
        log.exception("live alert publish could not be queued")
