"""Seed 000's console output: each received agent snapshot, pretty-printed (``INGEST_PRETTY_PRINT``).

On by default with DEBUG, so ``make run`` shows what the agents send as the
seed's backend did. Written through the ``ingest.snapshots`` logger to the console.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.conf import settings

log = logging.getLogger("ingest.snapshots")

RULE = "=" * 80
LABELS = [
    ("cpu_usage", "CPU Usage", "{:g}%"),
    ("memory_usage", "Memory Usage", "{:g}%"),
    ("disk_usage", "Disk Usage", "{:g}%"),
    ("network_rx_bytes_per_sec", "Network RX", "{:,.0f} bytes/sec"),
    ("network_tx_bytes_per_sec", "Network TX", "{:,.0f} bytes/sec"),
    ("tcp_connections", "TCP Connections", "{:,.0f}"),
]


def render(payload: dict, received_at: datetime | None = None) -> str:
    """The seed's block for one snapshot: who, when, score, system metrics, local alerts."""
    received_at = received_at or datetime.now(UTC)
    lines = [
        RULE,
        f"📊 MONITORING DATA RECEIVED - {received_at.isoformat(timespec='milliseconds').replace('+00:00', 'Z')}",
        RULE,
        f"🖥️  Host: {payload.get('host', '')}",
    ]
    for key, label in (("server_id", "🆔 Server ID"), ("env", "🌍 Environment"), ("owner_team", "👥 Owner Team")):
        if payload.get(key):
            lines.append(f"{label}: {payload[key]}")
    lines.append(f"⏰ Timestamp: {payload.get('timestamp', '')}")
    if payload.get("score") is not None:
        lines.append(f"📈 Score: {payload['score']}")
    metrics = payload.get("metrics") or {}
    if metrics:
        lines += ["", "📊 SYSTEM METRICS:"]
        known = {key for key, _, _ in LABELS}
        for key, label, shape in LABELS:
            if isinstance(metrics.get(key), int | float):
                lines.append(f"  {label}: {shape.format(metrics[key])}")
        lines += [f"  {key}: {value}" for key, value in metrics.items() if key not in known]
    alerts = payload.get("local_alerts") or []
    if alerts:
        lines += ["", f"🚨 LOCAL ALERTS ({len(alerts)}):"] + [f"  ⚠️  {alert}" for alert in alerts]
    counts = [(len(payload.get("docker_events") or []), "docker events"), (len(payload.get("logs") or []), "log lines")]
    if any(count for count, _ in counts):
        lines += ["", "   " + ", ".join(f"{count} {what}" for count, what in counts)]
    lines.append(RULE)
    return "\n".join(lines)


def print_snapshot(payload: dict) -> None:
    """Print a received seed 000 snapshot when INGEST_PRETTY_PRINT is on; never raises."""
    if not settings.INGEST_PRETTY_PRINT:
        return
    try:
        log.info("\n%s", render(payload))
    except Exception:  # a courtesy for the person watching; the request is already stored
        log.debug("could not print a snapshot", exc_info=True)
