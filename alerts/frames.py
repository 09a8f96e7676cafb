"""The alerts stream: every alert change becomes an ``alert_triggered`` frame (seed 004's message type).

Sent to the ``alerts`` group (WS /api/ws/alerts, /api/ws/live) and to the
server's group, through the live publisher of monitoring/live. The receiver is
connected in ``AlertsConfig.ready()``; it runs after the transaction that
changed the alert commits (alerts/signals.py).
"""

from __future__ import annotations

from datetime import datetime

from alerts import signals
from monitoring.live.frames import frame
from monitoring.live.groups import group
from monitoring.live.publisher import publish_frames
from monitoring.timestamps import iso


def alert_frame(alert, event: str) -> tuple[list[str], dict]:
    """The alert_triggered frame for an alert that changed (seed 004's message type)."""

    def attr(name, default=None):
        value = getattr(alert, name, default)
        if isinstance(value, datetime):
            return iso(value)
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
            "hostname": getattr(getattr(alert, "server", None), "hostname", None),
            "summary": attr("summary") or "",
            "value": attr("value"),
            "labels": attr("labels") or {},
            "timestamp": attr("started_at"),
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


def publish_alert(alert, event: str) -> None:
    """Queue the alert_triggered frame of an alert that changed. Never raises, never blocks."""
    # built in the caller's thread, where the alert's rule may be read from the database
    publish_frames(lambda: [alert_frame(alert, event)])


def _on_alert_changed(sender, alert=None, **kwargs) -> None:
    if alert is not None:
        publish_alert(alert, getattr(alert, "state", None) or "changed")


def connect_alert_signals() -> bool:
    """Push every alert change to the live streams (one frame per change); answers that it did."""
    signals.alert_changed.connect(_on_alert_changed, dispatch_uid="alerts.frames.alert_changed", weak=False)
    return True
