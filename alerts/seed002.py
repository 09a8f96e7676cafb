"""Seed 002's alert events: one shape for GET /api/alerts/recent and for its Redis side.

With SEED002_REDIS_COMPAT, each alert that fires or resolves is also published on
REDIS_ALERTS_CHANNEL and kept in REDIS_ALERTS_KEY (monitoring/seed002_redis.py),
from the signals sent after the alert's transaction commits.
"""

from __future__ import annotations

from datetime import datetime

from alerts.choices import AlertState
from alerts.signals import alert_fired, alert_resolved
from monitoring import seed002_redis
from monitoring.timestamps import iso


def alert_event(alert, state: str, at: datetime, value: float | None) -> dict:
    """An alert's step to ``state`` as seed 002's alert timeline held it.

    ``timestamp`` stays seed 002's epoch seconds (its tools sort on it); ``time`` is the same instant in ISO 8601.
    """
    return {
        "id": alert.pk,
        "timestamp": at.timestamp(),
        "time": iso(at),
        "rule": alert.rule.name,
        **alert.read_names(),
        "server": alert.server.hostname if alert.server_id else None,  # the name seed 002's tools read
        "state": state,
        "severity": alert.severity,
        "value": value,
        "threshold": alert.rule.threshold,
        "message": alert.summary,
    }


def _on_fired(sender, alert, **kwargs) -> None:
    at = alert.fired_at or alert.started_at
    seed002_redis.publish_alert(alert_event(alert, AlertState.FIRING.value, at, alert.value), at.timestamp())


def _on_resolved(sender, alert, **kwargs) -> None:
    at = alert.resolved_at or alert.started_at
    seed002_redis.publish_alert(alert_event(alert, AlertState.RESOLVED.value, at, alert.value), at.timestamp())


def connect() -> None:
    alert_fired.connect(_on_fired, dispatch_uid="alerts.seed002.fired")
    alert_resolved.connect(_on_resolved, dispatch_uid="alerts.seed002.resolved")
