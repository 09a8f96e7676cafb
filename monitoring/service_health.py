"""How each service is doing, from its logs (seed 004 health).

- error rate: ERROR and CRITICAL lines over all lines in the last
  LOG_ERROR_RATE_WINDOW_SECONDS; above LOG_ERROR_RATE_THRESHOLD the service is unhealthy;
- silent: no log for SERVICE_SILENT_SECONDS;
- recent critical errors: CRITICAL lines of the last hour (any one makes the service unhealthy);
- classified critical: lines of the window whose template the log classifier judged critical
  (monitoring/log_classification.py; any one makes the service unhealthy); the window's
  classification (lines per severity and category, the worst templates) is part of the answer.

Services are the registered ones (servers of kind service) and every service
name seen in the window. Each query reads a window or one index entry per
service, never the whole table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection

from monitoring.choices import LogLevel, LogSeverity, ServiceState
from monitoring.log_classification import classified_counts
from monitoring.log_search import COLUMNS, TABLE, entry
from monitoring.timestamps import iso_or_none
from servers.choices import ServerKind
from servers.models import Server

CRITICAL_LOOKBACK_SECONDS = 3600
ERROR_LEVELS = [LogLevel.ERROR.value, LogLevel.CRITICAL.value]


class Health:
    HEALTHY = ServiceState.HEALTHY.value
    UNHEALTHY = ServiceState.UNHEALTHY.value
    SILENT = ServiceState.SILENT.value
    ALL = (HEALTHY, UNHEALTHY, SILENT)


@dataclass(slots=True)
class ServiceHealth:
    name: str
    status: str
    logs_in_window: int
    errors_in_window: int
    error_rate: float
    last_log_at: datetime | None
    critical_errors: int
    reasons: list[str]
    classification: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "service_name": self.name,
            "status": self.status,
            "error_rate": round(self.error_rate, 4),
            "logs_in_window": self.logs_in_window,
            "errors_in_window": self.errors_in_window,
            "critical_errors_last_hour": self.critical_errors,
            "last_log_at": iso_or_none(self.last_log_at),
            "reasons": self.reasons,
            "classification": self.classification or None,
        }


def _window_counts(cursor, since: datetime, service: str | None) -> dict[str, tuple[int, int]]:
    sql = f"SELECT service, count(*), count(*) FILTER (WHERE level = ANY(%s)) FROM {TABLE} WHERE ts >= %s"
    params: list = [ERROR_LEVELS, since]
    if service is not None:
        sql += " AND service = %s"
        params.append(service)
    cursor.execute(sql + " GROUP BY service", params)
    return {name: (total, errors) for name, total, errors in cursor.fetchall()}


def _critical_counts(cursor, since: datetime, service: str | None) -> dict[str, int]:
    sql = f"SELECT service, count(*) FROM {TABLE} WHERE level = %s AND ts >= %s"
    params: list = [LogLevel.CRITICAL.value, since]
    if service is not None:
        sql += " AND service = %s"
        params.append(service)
    cursor.execute(sql + " GROUP BY service", params)
    return dict(cursor.fetchall())


def _last_logs(cursor, services: list[str]) -> dict[str, datetime | None]:
    """Each service's latest log time: one statement, each service's max(ts) read from its index."""
    cursor.execute(
        f"SELECT s.name, (SELECT max(ts) FROM {TABLE} WHERE service = s.name) FROM unnest(%s::text[]) AS s(name)",
        [services],
    )
    return dict(cursor.fetchall())


def judge(
    name: str,
    counts: tuple[int, int],
    last_log_at: datetime | None,
    critical: int,
    now: datetime,
    classification: dict | None = None,
) -> ServiceHealth:
    total, errors = counts
    rate = errors / total if total else 0.0
    reasons = []
    if last_log_at is None or (now - last_log_at).total_seconds() > settings.SERVICE_SILENT_SECONDS:
        reasons.append(f"no logs for more than {settings.SERVICE_SILENT_SECONDS} s")
    if total and rate > settings.LOG_ERROR_RATE_THRESHOLD:
        reasons.append(
            f"error rate {rate:.1%} above {settings.LOG_ERROR_RATE_THRESHOLD:.1%} "
            f"over the last {settings.LOG_ERROR_RATE_WINDOW_SECONDS} s"
        )
    if critical:
        reasons.append(f"{critical} critical error(s) in the last hour")
    classified_critical = (classification or {}).get("by_severity", {}).get(LogSeverity.CRITICAL.value, 0)
    if classified_critical:
        worst = classification["templates"][0]
        reasons.append(
            f"{classified_critical} line(s) classified critical ({worst['category']}: {worst['template'][:120]})"
        )
    if reasons and reasons[0].startswith("no logs"):
        status = Health.SILENT
    elif reasons:
        status = Health.UNHEALTHY
    else:
        status = Health.HEALTHY
    return ServiceHealth(name, status, total, errors, rate, last_log_at, critical, reasons, classification or {})


def services_health(now: datetime | None = None, service: str | None = None) -> list[ServiceHealth]:
    """The health of every service (or of one), worst first."""
    now = now or datetime.now(UTC)
    since = now - timedelta(seconds=settings.LOG_ERROR_RATE_WINDOW_SECONDS)
    with connection.cursor() as cursor:
        counts = _window_counts(cursor, since, service)
        critical = _critical_counts(cursor, now - timedelta(seconds=CRITICAL_LOOKBACK_SECONDS), service)
        classified = classified_counts(since, service)
        if service is not None:
            names = {service}
        else:
            names = set(Server.objects.filter(kind=ServerKind.SERVICE).values_list("hostname", flat=True))
            names |= set(counts) | set(critical)
        last = _last_logs(cursor, sorted(names))
        found = [
            judge(
                name,
                counts.get(name, (0, 0)),
                last[name],
                critical.get(name, 0),
                now,
                classified.get(name),
            )
            for name in sorted(names)
        ]
    order = {Health.UNHEALTHY: 0, Health.SILENT: 1, Health.HEALTHY: 2}
    return sorted(found, key=lambda h: (order[h.status], h.name))


def recent_critical_errors(limit: int = 10, service: str | None = None, now: datetime | None = None) -> list[dict]:
    now = now or datetime.now(UTC)
    sql = f"SELECT {COLUMNS} FROM {TABLE} WHERE level = %s AND ts >= %s"
    params: list = [LogLevel.CRITICAL.value, now - timedelta(seconds=CRITICAL_LOOKBACK_SECONDS)]
    if service is not None:
        sql += " AND service = %s"
        params.append(service)
    with connection.cursor() as cursor:
        cursor.execute(sql + " ORDER BY ts DESC, id DESC LIMIT %s", [*params, limit])
        return [entry(row) for row in cursor.fetchall()]


def overview(now: datetime | None = None) -> dict:
    """GET /api/health/: every service, a summary, the recent critical errors, the thresholds used."""
    now = now or datetime.now(UTC)
    services = services_health(now)
    summary = {status: sum(1 for s in services if s.status == status) for status in Health.ALL}
    if summary[Health.UNHEALTHY]:
        overall = Health.UNHEALTHY
    elif summary[Health.SILENT]:
        overall = "degraded"
    else:
        overall = Health.HEALTHY
    return {
        "status": overall,
        "timestamp": iso_or_none(now),
        "services": [s.as_dict() for s in services],
        "summary": {"total": len(services), **summary},
        "recent_critical_errors": recent_critical_errors(now=now),
        "thresholds": {
            "error_rate": settings.LOG_ERROR_RATE_THRESHOLD,
            "error_rate_window_seconds": settings.LOG_ERROR_RATE_WINDOW_SECONDS,
            "silent_after_seconds": settings.SERVICE_SILENT_SECONDS,
        },
    }


LAST_STATUS_KEY = "service_health:last_status"


def publish_changes(now: datetime | None = None) -> list[dict]:
    """Push a health_update for every service whose status changed since the last look.

    A service that goes silent sends nothing that could carry the news, so the
    console looks every ALERT_EVAL_INTERVAL_SECONDS (``monitoring.tasks.watch_service_health``)
    and pushes turning unhealthy, turning silent and recovering, not only "up" when data arrives.
    """
    from django.core.cache import cache

    from monitoring.live.publisher import publish_health

    now = now or datetime.now(UTC)
    current = services_health(now)
    try:
        previous = cache.get(LAST_STATUS_KEY) or {}
        cache.set(LAST_STATUS_KEY, {h.name: h.status for h in current}, timeout=None)
    except Exception:  # Redis down: nothing to compare with, and nobody could receive a frame anyway
        return []
    changes = []
    for health in current:
        before = previous.get(health.name)
        if before == health.status or (before is None and health.status == Health.HEALTHY):
            continue
        changes.append(
            {**health.as_dict(), "service": health.name, "previous_status": before, "updated_at": iso_or_none(now)}
        )
    for change in changes:
        publish_health(change)
    return changes
