"""How each service is doing, from its logs (seed 004 health).

- error rate: ERROR and CRITICAL lines over all lines in the last
  LOG_ERROR_RATE_WINDOW_SECONDS; above LOG_ERROR_RATE_THRESHOLD the service is unhealthy;
- silent: no log for SERVICE_SILENT_SECONDS;
- recent critical errors: CRITICAL lines of the last hour (any one makes the service unhealthy);
- classified critical: lines of the window whose template the log classifier judged critical
  (monitoring/log_classification.py; any one makes the service unhealthy); the window's
  classification (lines per severity and category, the worst templates) is part of the answer.

A service belongs to the server whose agent posts its logs: health is keyed by
(server, service name), so host A's agent posting lines for "billing" never
changes host B's "billing". (A fleet token's lines belong to the registered
service itself, a server of kind service.) Services are the registered ones and
every (server, name) seen in the window. Each query reads a window or one index
entry per service, never the whole table. A read naming only a service answers
each server's instance, worst first.
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


# (server id as text, or None for lines posted without a server; service name)
Key = tuple[str | None, str]


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
    server_id: str | None = None
    server: str | None = None  # the server's hostname

    @property
    def key(self) -> Key:
        return (self.server_id, self.name)

    def as_dict(self) -> dict:
        return {
            "service_name": self.name,
            "server": self.server,  # the hostname, under this API's first name
            "server_id": self.server_id,
            "hostname": self.server,
            "status": self.status,
            "error_rate": round(self.error_rate, 4),
            "logs_in_window": self.logs_in_window,
            "errors_in_window": self.errors_in_window,
            "critical_errors_last_hour": self.critical_errors,
            "last_log_at": iso_or_none(self.last_log_at),
            "reasons": self.reasons,
            "classification": self.classification or None,
        }


def _server_text(server_id) -> str | None:
    return str(server_id) if server_id else None


def _window_counts(cursor, since: datetime, service: str | None) -> dict[Key, tuple[int, int]]:
    sql = f"SELECT server_id, service, count(*), count(*) FILTER (WHERE level = ANY(%s)) FROM {TABLE} WHERE ts >= %s"
    params: list = [ERROR_LEVELS, since]
    if service is not None:
        sql += " AND service = %s"
        params.append(service)
    cursor.execute(sql + " GROUP BY server_id, service", params)
    return {(_server_text(server), name): (total, errors) for server, name, total, errors in cursor.fetchall()}


def _critical_counts(cursor, since: datetime, service: str | None) -> dict[Key, int]:
    sql = f"SELECT server_id, service, count(*) FROM {TABLE} WHERE level = %s AND ts >= %s"
    params: list = [LogLevel.CRITICAL.value, since]
    if service is not None:
        sql += " AND service = %s"
        params.append(service)
    cursor.execute(sql + " GROUP BY server_id, service", params)
    return {(_server_text(server), name): count for server, name, count in cursor.fetchall()}


def _last_logs(cursor, keys: list[Key]) -> dict[Key, tuple[datetime | None, str | None]]:
    """Each (server, service)'s latest log time and its server's hostname: one statement, the
    times read from the (service, ts) index."""
    cursor.execute(
        f"""SELECT k.server, k.name, v.hostname, (SELECT max(ts) FROM {TABLE} l WHERE l.service = k.name
                   AND (l.server_id = k.server OR (k.server IS NULL AND l.server_id IS NULL)))
            FROM unnest(%s::uuid[], %s::text[]) AS k(server, name) LEFT JOIN servers_server v ON v.id = k.server""",
        [[server for server, _ in keys], [name for _, name in keys]],
    )
    return {(_server_text(server), name): (last, hostname) for server, name, hostname, last in cursor.fetchall()}


def _latest_writer(cursor, service: str) -> list[Key]:
    """The server that last logged ``service`` (a service silent for longer than any window)."""
    cursor.execute(f"SELECT server_id FROM {TABLE} WHERE service = %s ORDER BY ts DESC LIMIT 1", [service])
    row = cursor.fetchone()
    return [(_server_text(row[0]), service)] if row else []


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
    """The health of every service (or of each server's instance of one), worst first."""
    now = now or datetime.now(UTC)
    since = now - timedelta(seconds=settings.LOG_ERROR_RATE_WINDOW_SECONDS)
    registered = Server.objects.filter(kind=ServerKind.SERVICE)
    if service is not None:
        registered = registered.filter(hostname=service)
    with connection.cursor() as cursor:
        counts = _window_counts(cursor, since, service)
        critical = _critical_counts(cursor, now - timedelta(seconds=CRITICAL_LOOKBACK_SECONDS), service)
        classified = classified_counts(since, service)
        keys = {(str(pk), name) for pk, name in registered.values_list("id", "hostname")}
        keys |= set(counts) | set(critical)
        if service is not None and not keys:
            keys = set(_latest_writer(cursor, service))
        last = _last_logs(cursor, sorted(keys, key=_sort_key))
    found = []
    for key in keys:
        last_log_at, hostname = last[key]
        health = judge(key[1], counts.get(key, (0, 0)), last_log_at, critical.get(key, 0), now, classified.get(key))
        health.server_id, health.server = key[0], hostname
        found.append(health)
    order = {Health.UNHEALTHY: 0, Health.SILENT: 1, Health.HEALTHY: 2}
    return sorted(found, key=lambda h: (order[h.status], h.name, h.server or ""))


def _sort_key(key: Key) -> tuple[str, str]:
    return (key[1], key[0] or "")


def recent_critical_errors(
    limit: int = 10, service: str | None = None, now: datetime | None = None, server_id: str | None = None
) -> list[dict]:
    now = now or datetime.now(UTC)
    sql = f"SELECT {COLUMNS} FROM {TABLE} WHERE level = %s AND ts >= %s"
    params: list = [LogLevel.CRITICAL.value, now - timedelta(seconds=CRITICAL_LOOKBACK_SECONDS)]
    if service is not None:
        sql += " AND service = %s"
        params.append(service)
    if server_id is not None:
        sql += " AND server_id = %s"
        params.append(server_id)
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
        cache.set(LAST_STATUS_KEY, {h.key: h.status for h in current}, timeout=None)
    except Exception:  # Redis down: nothing to compare with, and nobody could receive a frame anyway
        return []
    changes = []
    for health in current:
        before = previous.get(health.key)
        if before == health.status or (before is None and health.status == Health.HEALTHY):
            continue
        changes.append(
            {**health.as_dict(), "service": health.name, "previous_status": before, "updated_at": iso_or_none(now)}
        )
    for change in changes:
        publish_health(change)
    return changes
