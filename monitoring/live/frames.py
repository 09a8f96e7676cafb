"""What one stored request becomes: the frames each watched group gets, each JSON text encoded once.

A frame is built only when somebody watches one of the groups it goes to
(``watched``, see watched.py); a frame says how many lines or points it left out.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections import defaultdict
from datetime import UTC, datetime

import orjson

from monitoring.live.groups import group, headline_kind
from monitoring.live.watched import EVERYONE, Watched, only, watched_kinds
from monitoring.records import Batch, event_summary
from monitoring.storage import WriteResult
from monitoring.timestamps import iso

# the most log lines and points one frame carries; a frame says how many it left out
MAX_LOG_LINES = 50
MAX_POINTS = 2000

Frames = list[tuple[list[str], dict]]


_ids = itertools.count(1)


def _frame_id() -> str:
    return f"{_process_tag}-{next(_ids)}"


_process_tag = hashlib.blake2b(f"{time.time_ns()}".encode(), digest_size=4).hexdigest()


def frame(body: dict) -> tuple[str, dict]:
    """A channel-layer message carrying ``body`` encoded once; answers (id, message)."""
    frame_id = _frame_id()
    message = {"type": "live.frame", "id": frame_id, "kind": body["type"], "text": orjson.dumps(body).decode()}
    return frame_id, message


def frames_for_write(batch: Batch, result: WriteResult, watched: Watched = EVERYONE) -> list[tuple[list[str], dict]]:
    """The frames one stored request produces, each with the watched groups it goes to.

    ``watched`` (a set of group names) leaves out frames nobody watches, before they are built.
    """
    out: list[tuple[list[str], dict]] = []
    kinds = watched_kinds(watched)
    now = iso(datetime.now(UTC))
    if kinds & {"metrics", "metrics.server", "metrics.type", "fleet"}:
        out.extend(_metric_frames(batch, result, now, watched, kinds))
    if kinds & {"logs", "logs.service", "metrics.server"}:
        out.extend(_log_frames(batch, result, now, watched))
    if kinds & {"events", "metrics.server"}:
        out.extend(_event_frames(batch, result, watched))
    if kinds & {"health", "fleet"}:
        out.extend(_health_frames(batch, result, now, watched))
    return out


def _metric_frames(batch: Batch, result: WriteResult, now: str, watched, kinds: set[str]) -> list[tuple]:
    out: list[tuple[list[str], dict]] = []
    ids = {key: series_id for series_id, key in result.series.items()}
    texts: dict[datetime, str] = {}  # a request's samples share few timestamps: format each once
    # samples by server, then by series
    by_server: dict[str, dict[tuple, list]] = defaultdict(lambda: defaultdict(list))
    for key, ts, value in batch.samples:
        by_server[key[0]][key].append((ts, value))
    typed_watched = "metrics.type" in kinds
    for server_id, series in by_server.items():
        main = only(watched, [group("metrics"), group("metrics.server", server_id)])
        headline_groups = only(watched, [group("fleet"), group("metrics.server", server_id)])
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
                points_out = [[texts.get(ts) or texts.setdefault(ts, iso(ts)), value] for ts, value in kept]
                entry = {
                    "series_id": ids.get(key),
                    "metric_type": metric_type,
                    "metric_name": name,
                    "labels": orjson.loads(labels),
                    # the latest point under the read APIs' names, beside every point
                    "timestamp": points_out[-1][0],
                    "value": points_out[-1][1],
                    "points": points_out,
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
        hostname = result.hostnames.get(server_id)
        body = {"type": "metrics", "server_id": server_id, "hostname": hostname, "received_at": now, "series": entries}
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
            update = {"server_id": server_id, "hostname": hostname, "latest": summary, "timestamp": now, "at": now}
            _, message = frame({"type": "server_update", **update})
            out.append((headline_groups, message))
    return out


def _log_frames(batch: Batch, result: WriteResult, now: str, watched: Watched = EVERYONE) -> list[tuple]:
    by_service: dict[str, list] = defaultdict(list)
    for record in batch.logs:
        by_service[record.service].append(record)
    out = []
    for service, records in by_service.items():
        server_id = str(records[-1].server_id) if records[-1].server_id else None
        groups = [group("logs"), group("logs.service", service)]
        if server_id:
            groups.append(group("metrics.server", server_id))
        groups = only(watched, groups)
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
                "hostname": result.hostnames.get(server_id) if server_id else None,
                "count": len(records),
                "levels": dict(levels),
                "processed_at": now,
                "logs": [
                    {
                        "timestamp": iso(r.ts),
                        "level": r.level,
                        "message": r.message[:2000],
                        "service": r.service,
                        "server_id": str(r.server_id) if r.server_id else None,
                        "hostname": result.hostnames.get(str(r.server_id)) if r.server_id else None,
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


def _event_frames(batch: Batch, result: WriteResult, watched: Watched = EVERYONE) -> list[tuple[list[str], dict]]:
    out = []
    for index, event in enumerate(batch.events[:MAX_LOG_LINES]):
        server_id = str(event.server_id) if event.server_id else None
        groups = [group("events")]
        if server_id:
            groups.append(group("metrics.server", server_id))
        groups = only(watched, groups)
        if not groups:
            continue
        body = {
            "type": "event_processed",
            "data": {
                "id": result.event_ids[index] if index < len(result.event_ids) else None,
                "timestamp": iso(event.ts),
                "server_id": server_id,
                "hostname": result.hostnames.get(server_id) if server_id else None,
                "source": event.source,
                "event_type": event.event_type,
                "status": event.status,
                "severity": event.severity,
                "reasons": event.reasons,
                "suggestions": event.suggestions,
                "decision": event.decision,
                "summary": event_summary(event.reasons, event.data),
            },
        }
        _, message = frame(body)
        out.append((groups, message))
    return out


def _health_frames(batch: Batch, result: WriteResult, now: str, watched: Watched = EVERYONE) -> list[tuple]:
    out = []
    groups = only(watched, [group("health"), group("fleet")])
    if not groups:
        return out
    services: dict[str | None, dict] = {}
    for record in batch.logs:
        entry = services.setdefault(str(record.server_id) if record.server_id else None, {"service": record.service})
        entry["logs"] = entry.get("logs", 0) + 1
        if record.level in ("ERROR", "CRITICAL"):
            entry["errors"] = entry.get("errors", 0) + 1
    for server_id, last in batch.seen.items():
        data = {
            "server_id": str(server_id),
            "hostname": result.hostnames.get(str(server_id)),
            "status": "up",
            "last_seen": iso(last),
            "timestamp": now,
            "updated_at": now,
        }
        data.update(services.get(str(server_id), {}))
        _, message = frame({"type": "health_update", "data": data})
        out.append((groups, message))
    return out


def health_frame(service: dict) -> tuple[list[str], dict]:
    """The health_update frame of one service's health (its log classification included), to health watchers."""
    name = service.get("service_name")
    data = {"timestamp": iso(datetime.now(UTC)), **service, "service": name}
    _, message = frame({"type": "health_update", "data": data})
    return [group("health"), group("logs.service", name)], message
