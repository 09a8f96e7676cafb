"""Liveness, readiness and the API root."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import NoReverseMatch, reverse
from django.views import defaults
from django.views.decorators.http import require_GET

from config.errors import error_body
from monitoring.timestamps import iso


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: the API's clients get the one error shape in JSON, people Django's page (DEBUG off)."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(f"nothing at {request.path}"), status=404)
    return defaults.page_not_found(request, exception)


def _now() -> str:
    return iso(datetime.now(UTC))


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness, as seed 000 answers it: no dependency is touched."""
    return JsonResponse({"status": "ok", "timestamp": _now(), "service": "monitoring-backend"})


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        detail = check()
    except Exception as exc:  # a dependency that fails is reported, not raised
        return {
            "status": "down",
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            "error": f"{type(exc).__name__}: {exc}".strip()[:300],
        }
    result = {"status": "up", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
    if detail:
        result.update(detail)
    return result


def _check_evaluation() -> dict:
    from alerts import health as alerting

    # the beat: the last evaluation round is at most three intervals old ("stale" otherwise)
    return alerting.evaluation_check()


def _check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {}


def _check_redis() -> dict:
    # REDIS_URL and the roles' own Redis servers (Sentinel URLs are the broker's and layer's to check)
    urls = {settings.REDIS_URL, settings.CACHE_REDIS_URL, settings.CHANNEL_REDIS_URL}
    for url in sorted(u for u in urls if not u.startswith("sentinel://")):
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
        finally:
            client.close()
    return {}


def _check_broker() -> dict:
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=1)
        return {"transport": conn.transport_cls}


def _signed_in(request: HttpRequest) -> bool:
    """A person: a session, or a person's API token. Agents and anonymous callers are not."""
    if request.user.is_authenticated:
        return True
    from servers.auth import raw_token
    from servers.choices import TokenKind
    from servers.models import AgentToken

    raw = raw_token(request.headers)
    token = AgentToken.find(raw) if raw.startswith(AgentToken.PREFIXES[TokenKind.USER]) else None
    return token is not None and token.user is not None and token.user.is_active


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Readiness: each dependency's status; 503 when the database is down.

    Signed-in people also get each check's latency and error text; anonymous callers (a load
    balancer, the Internet) get statuses only: an error can name hosts, ports and users."""
    checks = {
        "database": _timed(_check_database),
        "redis": _timed(_check_redis),
        "celery_broker": _timed(_check_broker),
        "evaluation": _timed(_check_evaluation),
    }
    if checks["database"]["status"] != "up":
        connection.close_if_unusable_or_obsolete()
    healthy = checks["database"]["status"] == "up"
    degraded = any(c["status"] != "up" for c in checks.values())
    if not _signed_in(request):
        checks = {name: {"status": check["status"]} for name, check in checks.items()}
    body = {
        "status": "ok" if not degraded else ("degraded" if healthy else "unavailable"),
        "timestamp": _now(),
        "service": "monitoring-backend",
        "checks": checks,
    }
    return JsonResponse(body, status=200 if healthy else 503)


def _home_url() -> str:
    for name in ("dashboards:fleet", "admin:index"):
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return "/admin/"


@require_GET
def root(request: HttpRequest):
    """Browsers go to the console; API clients get a map of the API (seed 000)."""
    accept = request.headers.get("Accept", "")
    if "text/html" in accept:
        return HttpResponseRedirect(_home_url())
    return JsonResponse(
        {
            "service": "monitoring-backend",
            "name": settings.CONSOLE_NAME,
            "version": "1.0.0",
            "timestamp": _now(),
            "endpoints": {
                "ingest": "/ingest",
                "ingest_bulk": "/api/v1/ingest",
                "ingest_process_table": "/ingest/metrics",
                "servers": "/api/v1/servers",
                "metrics": "/api/v1/metrics",
                "logs": "/api/v1/logs",
                "events": "/api/v1/monitoring/events",
                "alerts": "/api/v1/alerts",
                "healthz": "/healthz",
                "health": "/health",
                "schema": "/api/schema/",
                "docs": "/docs",
                "admin": "/admin/",
            },
        }
    )


# Seed 004's API, grouped as its routers were (logs, health, analytics, notifications, websockets)
SEED004_API = {
    "logs": {
        "stream": "/api/logs/stream/{service_name}",
        "stream_single": "/api/logs/stream/{service_name}/single",
        "stream_continuous": "/api/logs/stream/{service_name}/continuous",
        "services": "/api/logs/services",
        "register_service": "/api/logs/services/register",
        "search": "/api/v1/logs",
    },
    "health": {
        "overview": "/api/health/",
        "service": "/api/health/services/{service_name}",
        "alerts": "/api/health/alerts",
        "acknowledge_alert": "/api/health/alerts/{alert_id}/acknowledge",
    },
    "analytics": {
        "query": "/api/analytics/query",
        "trends": "/api/analytics/trends/{service_name}",
        "insights": "/api/analytics/insights",
        "error_patterns": "/api/analytics/errors/patterns",
    },
    "notifications": {
        "list": "/api/notifications/",
        "create": "/api/notifications/",
        "bulk": "/api/notifications/bulk",
        "channels": "/api/notifications/channels",
    },
    "websockets": {
        "live": "/api/ws/live",
        "health": "/api/ws/health",
        "logs": "/api/ws/logs/{service_name}",
        "alerts": "/api/ws/alerts",
    },
    "status": "/api/status",
    "docs": "/docs",
    "redoc": "/redoc",
}


@require_GET
def api_root(request: HttpRequest) -> JsonResponse:
    """GET /api/: seed 004's API map, as GET / answers seed 000's."""
    return JsonResponse(
        {
            "message": f"{settings.CONSOLE_NAME} API",
            "service": "monitoring-backend",
            "version": "1.0.0",
            "timestamp": _now(),
            "endpoints": SEED004_API,
        }
    )
