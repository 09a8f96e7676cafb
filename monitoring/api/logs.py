"""Reading logs: search (GET /api/v1/logs), services and their health, analytics (seed 004).

People read (API token or session); agent tokens only write.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import BadInput, error_body
from monitoring import log_analytics, log_search, service_health
from monitoring.api import shapes
from monitoring.api.params import bad_request, integer, time
from monitoring.choices import LogLevel
from monitoring.timestamps import iso
from servers.choices import ServerKind
from servers.models import Server

MAX_PAGE = 1000

FILTER_PARAMETERS = [
    OpenApiParameter("service", str, many=True, description="service name; repeat or comma-separate"),
    OpenApiParameter("server", str, many=True, description="server id or hostname"),
    OpenApiParameter("level", str, many=True, description="DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    OpenApiParameter("from", OpenApiTypes.DATETIME, description="ISO 8601, inclusive"),
    OpenApiParameter("to", OpenApiTypes.DATETIME, description="ISO 8601, exclusive"),
    OpenApiParameter("q", str, description='full-text: words, "phrases", -exclusions, OR'),
]


def answers(shape, status: int = 200) -> dict:
    """The responses a read view declares: its shape, and the one error shape for a bad parameter."""
    return {status: shape, 400: shapes.Error}


def _many(values, name: str) -> list[str]:
    """A parameter given once, repeated, comma-separated or as a JSON list."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        raise BadInput(name, "expected a string or a list of strings")
    found = []
    for value in values:
        if not isinstance(value, str):
            raise BadInput(name, "expected a string or a list of strings")
        found += [part.strip() for part in value.split(",") if part.strip()]
    return found


def _levels(raw: list[str], name: str = "level") -> list[str]:
    levels = []
    for value in raw:
        level = LogLevel.normalize(value)
        if level is None:
            raise BadInput(name, f"unknown level {value[:20]!r}; use DEBUG, INFO, WARNING, ERROR, CRITICAL")
        levels.append(level)
    return levels


def _server_ids(raw: list[str]) -> list[str]:
    ids, names = [], []
    for value in raw:
        try:
            ids.append(str(uuid.UUID(value)))
        except ValueError:
            names.append(value)
    if names:
        known = dict(Server.objects.filter(hostname__in=names).values_list("hostname", "id"))
        ids += [str(known[n]) for n in names if n in known]
        if not ids:
            ids = [str(uuid.UUID(int=0))]  # named servers that do not exist match nothing
    return ids


def log_filter(get, *, default_hours: int | None = None) -> log_search.LogFilter:
    """A LogFilter from query parameters or a JSON body (``get(name)`` answers a value or a list)."""
    start = time(get("from") or get("start_time"), "from")
    end = time(get("to") or get("end_time"), "to")
    if start and end and start >= end:
        raise BadInput("to", "must be after from")
    if start is None and default_hours:
        start = (end or datetime.now(UTC)) - timedelta(hours=default_hours)
    q = get("q") or get("query")
    if q is not None and not isinstance(q, str):
        raise BadInput("q", "expected a string")
    if q and len(q) > 1000:
        raise BadInput("q", "at most 1000 characters")
    return log_search.LogFilter(
        services=_many(get("service") or get("services") or get("service_name"), "service"),
        server_ids=_server_ids(_many(get("server"), "server")),
        levels=_levels(_many(get("level") or get("levels"), "level")),
        start=start,
        end=end,
        q=q or None,
    )


def _query_getter(request: Request):
    params = request.query_params

    def get(name):
        values = params.getlist(name)
        if not values:
            return None
        return values if len(values) > 1 else values[0]

    return get


def _body(request: Request) -> dict:
    if not isinstance(request.data, dict):
        raise BadInput("", "expected a JSON object")
    return request.data


@extend_schema(
    parameters=[*FILTER_PARAMETERS, OpenApiParameter("limit", int), OpenApiParameter("cursor", str)],
    responses=answers(shapes.LogPage),
)
class LogSearchView(APIView):
    """GET /api/v1/logs: service, server, level (repeat or comma-separate), from, to, q, cursor, limit."""

    def get(self, request: Request) -> Response:
        get = _query_getter(request)
        try:
            where = log_filter(get)
            limit = integer(get("limit"), "limit", default=100, low=1, high=MAX_PAGE)
            results, following = log_search.search(where, limit=limit, cursor=get("cursor"))
        except BadInput as exc:
            return bad_request(exc)
        except DatabaseError as exc:  # e.g. a query PostgreSQL cannot parse: nothing to retry
            if "tsquery" not in str(exc):
                raise
            return bad_request(BadInput("q", "not a search PostgreSQL understands"))
        return Response({"count": len(results), "next_cursor": following, "results": results})


@extend_schema(responses={200: shapes.ServiceList})
class ServicesView(APIView):
    """GET /api/logs/services: each server's services (registered ones, or named in recent logs) and their health."""

    def get(self, request: Request) -> Response:
        registered = {
            str(s.id): s for s in Server.objects.filter(kind=ServerKind.SERVICE).only("id", "hostname", "environment")
        }
        services = []
        for health in service_health.services_health():
            server = registered.get(health.server_id or "")
            services.append(
                {
                    **health.as_dict(),
                    "registered": server is not None,
                    "id": str(server.id) if server else None,
                    "environment": server.environment if server else "",
                }
            )
        services.sort(key=lambda s: (s["service_name"], s["server"] or ""))
        return Response({"count": len(services), "services": services})


@extend_schema(responses={200: shapes.HealthOverview})
class HealthOverviewView(APIView):
    """GET /api/health/: every service's health, a summary and the recent critical errors."""

    def get(self, request: Request) -> Response:
        return Response(service_health.overview())


@extend_schema(
    parameters=[OpenApiParameter("server", str, description="a server's hostname or id: that server's instance")],
    responses={200: shapes.ServiceHealthDetail, 404: shapes.Error},
)
class ServiceHealthView(APIView):
    """GET /api/health/services/{name}[?server=]: the service's worst instance, and every server's in ``instances``."""

    def get(self, request: Request, service_name: str) -> Response:
        instances = service_health.services_health(service=service_name)
        server = request.query_params.get("server")
        if server:
            instances = [h for h in instances if server in (h.server_id, h.server)]
        if not instances:
            on = f" on {server!r}" if server else ""
            return Response(error_body(f"no service named {service_name!r}{on}"), status=404)
        found = instances[0]  # worst first: a read naming only the service hides no server's trouble
        critical = service_health.recent_critical_errors(
            service=service_name, server_id=found.server_id if server else None
        )
        return Response(
            {
                **found.as_dict(),
                "instances": [h.as_dict() for h in instances],
                "recent_critical_errors": critical,
                "thresholds": {
                    "error_rate": settings.LOG_ERROR_RATE_THRESHOLD,
                    "error_rate_window_seconds": settings.LOG_ERROR_RATE_WINDOW_SECONDS,
                    "silent_after_seconds": settings.SERVICE_SILENT_SECONDS,
                },
            }
        )


@extend_schema(responses={200: shapes.Status, 503: shapes.Status})
class StatusView(APIView):
    """GET /api/status (seed 004): is the console running; open, like /healthz."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    def get(self, request: Request) -> Response:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            database = "up"
        except DatabaseError:
            database = "down"
        return Response(
            {
                "status": "running" if database == "up" else "degraded",
                "timestamp": iso(datetime.now(UTC)),
                "service": "monitoring-console",
                "database": database,
            },
            status=200 if database == "up" else 503,
        )


def _bucket(raw, name: str = "bucket") -> int:
    if raw is None or raw == "":
        return 300
    if isinstance(raw, str) and raw in log_analytics.BUCKETS:
        return log_analytics.BUCKETS[raw]
    return integer(raw, name, default=300, low=10, high=7 * 86400)


@extend_schema(
    request=OpenApiTypes.OBJECT,
    responses={
        200: PolymorphicProxySerializer("AnalyticsAnswer", [shapes.LogGroups, shapes.LogPage], None),
        400: shapes.Error,
    },
)
class AnalyticsQueryView(APIView):
    """POST /api/analytics/query: filters as /api/v1/logs, ``group_by`` of level/service/time, ``bucket``.

    Without group_by it answers the matching lines (newest first, ``limit``).
    The window defaults to the last 24 hours.
    """

    def post(self, request: Request) -> Response:
        try:
            body = _body(request)
            where = log_filter(body.get, default_hours=24)
            group_by = _many(body.get("group_by"), "group_by")
            for group in group_by:
                if group not in log_analytics.GROUPS:
                    raise BadInput("group_by", f"one or more of {list(log_analytics.GROUPS)}")
            bucket = _bucket(body.get("bucket"))
            limit = integer(body.get("limit"), "limit", default=100, low=1, high=MAX_PAGE)
            if group_by:
                rows = log_analytics.count(where, group_by, bucket)
                return Response({"group_by": group_by, "bucket_seconds": bucket, "count": len(rows), "groups": rows})
            results, following = log_search.search(where, limit=limit, cursor=body.get("cursor"))
        except BadInput as exc:
            return bad_request(exc)
        return Response({"count": len(results), "next_cursor": following, "results": results})


@extend_schema(
    parameters=[OpenApiParameter("hours", int), OpenApiParameter("bucket", str)], responses=answers(shapes.Trends)
)
class TrendsView(APIView):
    """GET /api/analytics/trends/{service}?hours=24&bucket=1h: counts per level per bucket."""

    def get(self, request: Request, service_name: str) -> Response:
        try:
            hours = integer(request.query_params.get("hours"), "hours", default=24, low=1, high=24 * 31)
            bucket = _bucket(request.query_params.get("bucket") or ("1h" if hours > 6 else "5m"))
            if hours * 3600 / bucket > 2000:
                raise BadInput("bucket", "too many buckets for the window; choose a larger bucket")
        except BadInput as exc:
            return bad_request(exc)
        return Response(log_analytics.trends(service_name, hours=hours, bucket_seconds=bucket))


@extend_schema(
    parameters=[*FILTER_PARAMETERS, OpenApiParameter("hours", int), OpenApiParameter("limit", int)],
    responses=answers(shapes.ErrorPatterns),
)
class ErrorPatternsView(APIView):
    """GET /api/analytics/errors/patterns?service=&level=ERROR,CRITICAL&hours=24&limit=20."""

    def get(self, request: Request) -> Response:
        get = _query_getter(request)
        try:
            hours = integer(get("hours"), "hours", default=24, low=1, high=24 * 31)
            where = log_filter(get, default_hours=hours)
            if not where.levels:
                where.levels = [LogLevel.ERROR.value, LogLevel.CRITICAL.value]
            limit = integer(get("limit"), "limit", default=20, low=1, high=500)
        except BadInput as exc:
            return bad_request(exc)
        return Response({"hours": hours, **log_analytics.error_patterns(where, limit=limit)})
