"""The normalized records every wire format produces, and the batch one request stores.

Each adapter in ingest/ (and the events API) turns a request into a ``Batch``:
samples keyed by series, log records, events and server snapshots, plus the
servers heard from. monitoring/storage.py writes a batch in one transaction;
the live publisher (monitoring/live/) turns it into frames.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

import orjson

# (server_id, metric_type, name, canonical labels JSON) -> series id
SeriesKey = tuple[str, str, str, bytes]


def labels_key(labels: dict | None) -> bytes:
    """Canonical bytes of a label set: the same labels in any order give the same key."""
    if not labels:
        return b"{}"
    return orjson.dumps(labels, option=orjson.OPT_SORT_KEYS)


@dataclass(slots=True)
class LogRecord:
    ts: datetime
    server_id: uuid.UUID | str | None
    service: str
    level: str
    message: str
    metadata: dict = field(default_factory=dict)
    source: str = ""


@dataclass(slots=True)
class EventRecord:
    ts: datetime
    server_id: uuid.UUID | str | None
    source: str
    event_type: str
    data: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    status: str = "NORMAL"
    severity: float = 0.0
    reasons: list = field(default_factory=list)
    suggestions: list = field(default_factory=list)
    decision: str = "CONTINUE"


def event_summary(reasons: list, data: dict) -> str:
    """The line people read about an event: its first reason, else what its data names (bounded)."""
    if reasons:
        return str(reasons[0])[:200]
    if isinstance(data, dict):
        for key in ("alert", "message", "action", "name"):
            if data.get(key):
                return str(data[key])[:200]
    return ""


@dataclass(slots=True)
class SnapshotRecord:
    server_id: uuid.UUID | str
    ts: datetime
    payload: dict | None = None
    processes: list | None = None
    score: float | None = None


@dataclass
class Batch:
    """What one request stores. samples: (series key, ts, value) with key from ``series_key``."""

    samples: list[tuple[SeriesKey, datetime, float]] = field(default_factory=list)
    logs: list[LogRecord] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)
    snapshots: list[SnapshotRecord] = field(default_factory=list)
    # servers heard from in this request, with the latest time they spoke
    seen: dict[str, datetime] = field(default_factory=dict)
    # hostnames the request already knows (its agent's), for records of servers not in ``seen``;
    # the writer learns the others' while marking them seen
    hostnames: dict[str, str] = field(default_factory=dict)
    # every record carries its own timestamp from the body: only then can a digest of the
    # body tell a retry from new data (an idle host posts the same values every 10 s)
    timestamped: bool = False
    # records a receiver left out (not finite, out of time bounds), counted for its answer
    skipped: int = 0

    def add_sample(self, server_id, metric_type: str, name: str, labels: dict | None, ts: datetime, value: float):
        self.samples.append(((str(server_id), metric_type, name, labels_key(labels)), ts, value))

    def __len__(self) -> int:
        return len(self.samples) + len(self.logs) + len(self.events) + len(self.snapshots)
