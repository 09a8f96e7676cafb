"""Channel-layer group names, and which series are a server's headline figures.

Groups:
  metrics                every metrics frame           (WS /api/v1/stream, /ws/metrics)
  metrics.server.<id>    one server's metrics frames   (?server_id=, subscribe server)
  metrics.type.<type>    one metric type's frames      (?metric_type=)
  fleet                  one small summary per server per request (fleet page)
  logs                   every log_processed frame     (WS /api/ws/live)
  logs.service.<name>    one service's log frames      (WS /api/ws/logs/<name>, subscribe service_logs)
  events                 evaluated events (event monitor), also per server
  health                 health_update frames          (WS /api/ws/health)
  alerts                 alert_triggered frames        (WS /api/ws/alerts, sent by the alerts app)
"""

from __future__ import annotations

import functools
import hashlib
import re

_GROUP_SAFE = re.compile(r"^[A-Za-z0-9_.\-]{1,60}$")

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
