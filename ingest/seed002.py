"""Seed 002 (C++ agent, FastAPI backend): ``POST /ingest/metrics``.

Body: ``{"timestamp": epoch seconds, "total_cpu_percent": 45.2, "top_processes":
[{"pid", "name", "cpu_percent", "memory_mb"}]}``.

- ``total_cpu_percent`` -> a sample ``system``/``cpu_usage`` (the name seed 000
  agents use, so one CPU rule covers both);
- per process name (summed over its pids), for the PROCESS_SERIES_TOP_N busiest
  names of the table (by CPU, then memory) -> samples ``process``/``cpu_percent``,
  ``process``/``memory_mb`` and ``process``/``instances`` labelled ``name``. Keyed
  by name, not pid, so a host's series stay bounded while pids come and go;
- the whole process table -> the server's latest snapshot (``processes``).

The C++ agent does not say which host it runs on: an agent token knows its
server; with a fleet token (or the shared AGENT_API_TOKEN, or anonymously) the
server is the body's ``hostname`` (or ``host``), else the ``X-Agent-Hostname``
header, else one named after the client address (``agent-10.0.0.5``).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from ingest.base import ingest_endpoint
from ingest.errors import BadInput
from ingest.wire import Clock, array, decode, number, obj, text
from monitoring import seed002_redis
from monitoring.records import Batch, SnapshotRecord
from monitoring.storage import WriteResult
from servers.auth import Agent
from servers.registry import refuse_other_host, server_for

PROCESS_FIELDS = ("pid", "name", "cpu_percent", "memory_mb")


def adapt(request: HttpRequest, agent: Agent, body: bytes) -> Batch:
    data = decode(body)
    clock = Clock()
    ts = clock.at(data.get("timestamp"), "timestamp")
    if "total_cpu_percent" not in data:
        raise BadInput("total_cpu_percent", "required: a number")
    cpu = number(data.get("total_cpu_percent"), "total_cpu_percent")
    processes = [_process(item, i) for i, item in enumerate(array(data.get("top_processes"), "top_processes"))]
    refuse_other_host(agent, hostname=_named_host(data))
    server_id = server_for(agent, hostname=_hostname(request, data), field="hostname")

    batch = Batch(timestamped=True)  # the epoch timestamp is required
    batch.add_sample(server_id, "system", "cpu_usage", None, ts, cpu)
    for name, (cpu_percent, memory_mb, instances) in busiest_names(processes, settings.PROCESS_SERIES_TOP_N):
        labels = {"name": name}
        batch.add_sample(server_id, "process", "cpu_percent", labels, ts, cpu_percent)
        batch.add_sample(server_id, "process", "memory_mb", labels, ts, memory_mb)
        batch.add_sample(server_id, "process", "instances", labels, ts, instances)
    # fields beyond the seed's own (and the host's name) replace the snapshot's payload; a
    # plain process table leaves the seed 000 snapshot of the same host in place
    extra = {k: v for k, v in data.items() if k not in ("top_processes", "hostname", "host")}
    batch.snapshots.append(SnapshotRecord(server_id, ts, processes=processes, payload=None))
    if len(extra) > 2:
        batch.snapshots[-1].payload = extra
    batch.seen[server_id] = ts
    return batch


def busiest_names(processes: list[dict], top: int) -> list[tuple[str, tuple[float, float, int]]]:
    """The ``top`` process names by summed CPU, then memory: [(name, (cpu %, memory MB, pids))]."""
    by_name: dict[str, list] = {}
    for process in processes:
        totals = by_name.setdefault(process["name"] or "?", [0.0, 0.0, 0])
        totals[0] += process["cpu_percent"]
        totals[1] += process["memory_mb"]
        totals[2] += 1
    ranked = sorted(by_name.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))
    return [(name, (round(c, 4), round(m, 4), n)) for name, (c, m, n) in ranked[: max(0, top)]]


def _process(item, i: int) -> dict:
    process = obj(item, f"top_processes[{i}]", required=True)
    for key in PROCESS_FIELDS:
        if key not in process:
            raise BadInput(f"top_processes[{i}].{key}", "required")
    pid = process["pid"]
    if type(pid) is not int or pid < 0:
        raise BadInput(f"top_processes[{i}].pid", "must be a non-negative integer")
    return {
        **process,
        "pid": pid,
        "name": text(process["name"], f"top_processes[{i}].name", required=False, limit=1024),
        "cpu_percent": number(process["cpu_percent"], f"top_processes[{i}].cpu_percent"),
        "memory_mb": number(process["memory_mb"], f"top_processes[{i}].memory_mb"),
    }


def _named_host(data: dict) -> str | None:
    for key in ("hostname", "host"):
        if data.get(key) is not None:
            return text(data[key], key)
    return None


def _hostname(request: HttpRequest, data: dict) -> str:
    named = _named_host(data)
    if named is not None:
        return named
    header = request.headers.get("X-Agent-Hostname", "").strip()
    if header:
        return header[:255]
    return f"agent-{request.META.get('REMOTE_ADDR') or 'unknown'}"


def as_received(batch: Batch) -> tuple[dict, float]:
    """The payload of a stored seed 002 batch as the agent sent it (for seed 002's Redis side), and its time."""
    snapshot = batch.snapshots[-1]
    cpu = next(value for (_, metric_type, name, _), _, value in batch.samples if name == "cpu_usage")
    ts = snapshot.ts.timestamp()
    payload: dict = {"timestamp": int(ts) if ts.is_integer() else ts, "total_cpu_percent": cpu}
    payload.update(snapshot.payload or {})
    payload["top_processes"] = snapshot.processes
    payload["server_id"] = str(snapshot.server_id)
    return payload, ts


def _answer(batch: Batch, result: WriteResult) -> dict:
    # after the commit: the payload to seed 002's Redis side too (a queue put; nothing when it is off)
    if not result.duplicate:
        payload, ts = as_received(batch)
        seed002_redis.publish_metrics(payload, ts)
    return {"status": "ok", **result.as_dict()}


receive = ingest_endpoint(adapt, respond=_answer, status=200)
