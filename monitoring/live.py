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


def frames_for_write(batch: Batch, result: WriteResult) -> list[tuple[list[str], dict]]:
    """The frames one stored request produces, each with the groups it goes to."""
    out: list[tuple[list[str], dict]] = []
    now = _iso(datetime.now(UTC))
    ids = {key: series_id for series_id, key in result.series.items()}
    iso: dict[datetime, str] = {}  # a request's samples share few timestamps: format each once
    # samples by server, then by series
    by_server: dict[str, dict[tuple, list]] = defaultdict(lambda: defaultdict(list))
    for key, ts, value in batch.samples:
        by_server[key[0]][key].append((ts, value))
    for server_id, series in by_server.items():
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
            if kept:
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
        _, message = frame(body)
        out.append(([group("metrics"), group("metrics.server", server_id)], message))
        for metric_type, typed in by_type.items():
            _, message = frame({**body, "series": typed, "metric_type": metric_type})
            out.append(([group("metrics.type", metric_type)], message))
        if headline:
            summary = {kind: value for kind, (_, _, value) in headline.items()}
            _, message = frame({"type": "server_update", "server_id": server_id, "latest": summary, "at": now})
            out.append(([group("fleet"), group("metrics.server", server_id)], message))
    out.extend(_log_frames(batch, now))
    out.extend(_event_frames(batch, result))
    out.extend(_health_frames(batch, now))
    return out


def _log_frames(batch: Batch, now: str) -> list[tuple[list[str], dict]]:
    by_service: dict[str, list] = defaultdict(list)
    for record in batch.logs:
        by_service[record.service].append(record)
    out = []
    for service, records in by_service.items():
        levels: dict[str, int] = defaultdict(int)
        for record in records:
            levels[record.level] += 1
        shown = records[-MAX_LOG_LINES:]
        server_id = str(records[-1].server_id) if records[-1].server_id else None
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
        groups = [group("logs"), group("logs.service", service)]
        if server_id:
            groups.append(group("metrics.server", server_id))
        _, message = frame(body)
        out.append((groups, message))
    return out


def _event_frames(batch: Batch, result: WriteResult) -> list[tuple[list[str], dict]]:
    out = []
    for index, event in enumerate(batch.events[:MAX_LOG_LINES]):
        server_id = str(event.server_id) if event.server_id else None
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
        groups = [group("events")]
        if server_id:
            groups.append(group("metrics.server", server_id))
        _, message = frame(body)
        out.append((groups, message))
    return out


def _health_frames(batch: Batch, now: str) -> list[tuple[list[str], dict]]:
    out = []
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
        out.append(([group("health"), group("fleet")], message))
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


class Publisher:
    """A bounded queue and one background sender thread per process."""

    def __init__(self, size: int = 1000, timeout: float = 1.0, backoff: float = 5.0, layer=None):
        self._layer = layer  # default: the project's channel layer, bound in the sender thread
        self.size = size
        self.timeout = timeout
        self.backoff = backoff
        self.dropped = 0
        self.sent = 0
        self._queue: queue.Queue = queue.Queue(maxsize=size)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._down_until = 0.0

    def submit(self, work) -> None:
        """Queue a callable that answers [(groups, message)]; never blocks, never raises."""
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
            frames = work()
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
        publisher.submit(lambda: frames_for_write(batch, result))
    except Exception:  # the live view is a courtesy; ingest has already answered for the data
        log.exception("live publish could not be queued")


def publish_alert(alert, event: str) -> None:
    """Queue an alert_triggered frame (called from the alerts app's signals)."""
    try:
        built = [alert_frame(alert, event)]  # here, where the alert's rule may be read from the database
        publisher.submit(lambda: built)
    except Exception:
        log.exception("live alert publish could not be queued")
