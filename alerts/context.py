"""The host as it was when a metric alert fired: its process table and snapshot values, frozen.

Read once, when the alert fires, from the server's latest snapshot (seed 000's
payload, seed 002's or the bundled agent's process table) and stored on the
alert, so later tables do not change it and retention dropping the raw data
does not lose it. The alert page shows it ("who used the CPU"), messages carry
the top five processes, and the analysis evidence includes it.
"""

from __future__ import annotations

import math
from datetime import datetime

from monitoring.models import Snapshot

MAX_PROCESSES = 50
MAX_VALUES = 100
PROCESS_FIELDS = ("pid", "name", "cpu_percent", "memory_mb", "memory_percent", "user", "command")


def freeze(server_id, now: datetime) -> dict:
    """What to keep of the server's latest snapshot; {} when there is none."""
    snapshot = Snapshot.objects.filter(server_id=server_id).first()
    if snapshot is None:
        return {}
    return {
        "captured_at": now.isoformat(),
        "snapshot_ts": snapshot.ts.isoformat(),
        "processes": busiest(snapshot.processes or []),
        "values": snapshot_values(snapshot.payload or {}),
        "score": snapshot.score,
    }


def busiest(processes: list) -> list[dict]:
    """Processes by CPU, then memory, busiest first, with the fields people read."""
    rows = [p for p in processes if isinstance(p, dict)]
    rows.sort(key=lambda p: (-_number(p.get("cpu_percent")), -_number(p.get("memory_mb")), str(p.get("name", ""))))
    return [{k: p[k] for k in PROCESS_FIELDS if k in p} for p in rows[:MAX_PROCESSES]]


def snapshot_values(payload: dict) -> dict[str, float]:
    """The numbers of the snapshot (seed 000 keeps them under ``metrics``), flattened one level."""
    found: dict[str, float] = {}
    sources = [payload.get("metrics"), payload] if isinstance(payload.get("metrics"), dict) else [payload]
    for source in sources:
        for key, value in source.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                continue
            found.setdefault(str(key), float(value))
            if len(found) >= MAX_VALUES:
                return found
    return found


def top_lines(context: dict, count: int = 5) -> list[str]:
    """The busiest processes as message lines: "chrome (pid 1234): CPU 15.5 %, 512 MB"."""
    lines = []
    for p in (context or {}).get("processes", [])[:count]:
        parts = []
        if "cpu_percent" in p:
            parts.append(f"CPU {_number(p['cpu_percent']):.1f} %")
        if "memory_mb" in p:
            parts.append(f"{_number(p['memory_mb']):.0f} MB")
        pid = f" (pid {p['pid']})" if "pid" in p else ""
        lines.append(f"{p.get('name', '?')}{pid}: {', '.join(parts)}")
    return lines


def _number(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0
