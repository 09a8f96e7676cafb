"""Seed 000 (Go agent, FastAPI backend): ``POST /ingest``, the agent's whole snapshot.

Body: ``host`` (required), ``server_id``, ``env``, ``owner_team``, ``timestamp``,
``metrics`` (cpu_usage, memory_usage, disk_usage, network_rx/tx_bytes_per_sec,
tcp_connections, and any other numbers), ``docker_events``, ``logs``,
``local_alerts``, ``score``; unknown fields are allowed (the seed's models say
``extra="allow"``) and kept in the server's latest snapshot.

Where each field goes:
- every number in ``metrics`` -> a sample (metric_type ``system``, name the key);
  other values in ``metrics`` are kept in the snapshot only;
- ``score`` -> a sample (``agent``/``score``) and the snapshot's score;
- ``docker_events`` -> events (source ``docker``), ``local_alerts`` -> events
  (source ``agent``, type ``local_alert``, status WARNING);
- ``logs`` -> log entries (service = the container);
- the whole body -> the server's latest snapshot.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.http import HttpRequest

from ingest import snapshot_print
from ingest.base import ingest_endpoint
from ingest.errors import BadInput
from ingest.wire import Clock, array, decode, kind_of, number, obj, text
from monitoring.choices import EventStatus, LogLevel
from monitoring.records import Batch, EventRecord, LogRecord, SnapshotRecord
from monitoring.storage import WriteResult
from monitoring.timestamps import iso
from servers.auth import Agent
from servers.registry import refuse_other_host, server_for

METRIC_TYPE = "system"
# Fields of the Go agent's SystemMetrics: when present they must be numbers.
KNOWN_METRICS = (
    "cpu_usage",
    "memory_usage",
    "disk_usage",
    "network_rx_bytes_per_sec",
    "network_tx_bytes_per_sec",
    "tcp_connections",
)


def adapt(request: HttpRequest, agent: Agent, body: bytes) -> Batch:
    data = decode(body)
    clock = Clock()
    host = text(data.get("host"), "host")
    env = text(data.get("env"), "env", required=False, limit=64)
    team = text(data.get("owner_team"), "owner_team", required=False, limit=128)
    external_id = data.get("server_id")
    if external_id is not None and type(external_id) is not str:
        raise BadInput("server_id", f"must be a string, got {kind_of(external_id)}")
    ts = clock.at(data.get("timestamp"), "timestamp", default=clock.now)
    metrics = obj(data.get("metrics"), "metrics")
    docker_events = array(data.get("docker_events"), "docker_events")
    logs = array(data.get("logs"), "logs")
    local_alerts = array(data.get("local_alerts"), "local_alerts")
    score = data.get("score")
    score = None if score is None else number(score, "score")
    values = [
        (name, number(value, f"metrics.{name}"))
        for name, value in metrics.items()
        if name in KNOWN_METRICS or type(value) in (int, float)
    ]

    server_id = server_for(
        agent,
        hostname=host,
        server_id=external_id,
        defaults={"environment": env, "owner_team": team, "external_id": external_id or ""},
    )
    # every record takes the body's timestamp: with one, a digest of the body names a retry
    batch = Batch(timestamped=data.get("timestamp") is not None)
    for name, value in values:
        batch.add_sample(server_id, METRIC_TYPE, name, None, ts, value)
    if score is not None:
        batch.add_sample(server_id, "agent", "score", None, ts, score)
    batch.events.extend(_docker_events(docker_events, server_id, ts, clock))
    batch.events.extend(_local_alerts(local_alerts, server_id, ts))
    batch.logs.extend(_logs(logs, server_id, ts, clock))
    batch.snapshots.append(SnapshotRecord(server_id, ts, payload=data, score=score))
    batch.seen[server_id] = ts
    refuse_other_host(agent, hostname=host)  # once the body is known to be valid: 400 comes first
    return batch


def _docker_events(items: list, server_id: str, ts, clock: Clock) -> list[EventRecord]:
    events = []
    for i, item in enumerate(items):
        event = obj(item, f"docker_events[{i}]", required=True)
        for key in ("type", "action", "container", "image"):
            text(event.get(key), f"docker_events[{i}].{key}", required=False, limit=1024)
        at = clock.at(event.get("timestamp"), f"docker_events[{i}].timestamp", default=ts)
        events.append(EventRecord(at, server_id, "docker", event.get("type") or "container", data=event))
    return events


def _local_alerts(items: list, server_id: str, ts) -> list[EventRecord]:
    events = []
    for i, item in enumerate(items):
        name = text(item, f"local_alerts[{i}]", limit=1024)
        events.append(
            EventRecord(ts, server_id, "agent", "local_alert", data={"alert": name}, status=EventStatus.WARNING.value)
        )
    return events


def _logs(items: list, server_id: str, ts, clock: Clock) -> list[LogRecord]:
    records = []
    for i, item in enumerate(items):
        entry = obj(item, f"logs[{i}]", required=True)
        message = text(entry.get("message"), f"logs[{i}].message", required=False, limit=1 << 62)  # long: cut on write
        container = text(entry.get("container"), f"logs[{i}].container", required=False)
        at = clock.at(entry.get("timestamp"), f"logs[{i}].timestamp", default=ts)
        level = LogLevel.normalize(entry.get("level")) if type(entry.get("level")) is str else None
        extra = {k: v for k, v in entry.items() if k not in ("message", "container", "timestamp", "level")}
        level = level or LogLevel.INFO.value
        records.append(LogRecord(at, server_id, container or "agent", level, message, extra, source="seed000"))
    return records


def _answer(batch: Batch, result: WriteResult) -> dict:
    if not result.duplicate and batch.snapshots:  # after the commit, as seed 000 printed what it received
        snapshot_print.print_snapshot(batch.snapshots[-1].payload or {})
    # seed 000 answered a success message with a timestamp
    return {
        "status": "success",
        "message": "Data received successfully",
        "timestamp": iso(datetime.now(UTC)),
        **result.as_dict(),
    }


receive = ingest_endpoint(adapt, respond=_answer, status=200)
