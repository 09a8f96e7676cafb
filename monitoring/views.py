"""The console's pages: server-rendered, login required, live through /api/ws/live.

Views are thin: read what the page shows, render. Charts load their points
from ``series_data`` (JSON) and extend live from the socket.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from config.errors import error_body
from monitoring import capacity, charts, timeline
from monitoring.api.snapshots import snapshot_body
from monitoring.choices import EventStatus, LogLevel
from monitoring.log_analytics import error_patterns
from monitoring.log_search import LogFilter
from monitoring.models import Event, LogEntry, Series, Snapshot
from monitoring.service_health import services_health
from monitoring.timestamps import from_text
from servers.choices import ServerKind, ServerStatus
from servers.models import Server, status_for


def _server_filters(request: HttpRequest, queryset):
    environment = request.GET.get("environment") or ""
    team = request.GET.get("team") or ""
    label = request.GET.get("label") or ""
    if environment:
        queryset = queryset.filter(environment=environment)
    if team:
        queryset = queryset.filter(owner_team=team)
    if label:
        key, sep, value = label.partition("=")
        if not sep:
            key, sep, value = label.partition(":")
        queryset = queryset.filter(labels__contains={key.strip(): value.strip()}) if sep else queryset
    return queryset, {"environment": environment, "team": team, "label": label}


@login_required
@require_GET
def fleet(request: HttpRequest) -> HttpResponse:
    """Every server: status, headline figures with sparklines; active alerts come from the alert_summary tag."""
    servers, filters = _server_filters(request, Server.objects.filter(active=True, kind=ServerKind.HOST))
    servers = list(servers.order_by("hostname")[:500])
    ids = [s.pk for s in servers]
    headline = charts.headline_series(ids)
    spark = charts.sparklines([sid for kinds in headline.values() for sid in kinds.values()])
    now = timezone.now()
    rows = []
    for server in servers:
        figures = []
        for kind in ("cpu", "memory", "disk"):
            series_id = headline.get(str(server.pk), {}).get(kind)
            values = spark.get(series_id, []) if series_id else []
            figures.append(
                {"kind": kind, "series_id": series_id, "values": values, "last": values[-1] if values else None}
            )
        rows.append(
            {
                "server": server,
                "status": status_for(server.last_seen, now),
                "figures": figures,
            }
        )
    counts = Counter(row["status"].value for row in rows)
    choices = Server.objects.filter(active=True)
    return render(
        request,
        "dashboards/fleet.html",
        {
            "rows": rows,
            "counts": {s.value: counts.get(s.value, 0) for s in ServerStatus},
            "filters": filters,
            "environments": sorted(set(choices.exclude(environment="").values_list("environment", flat=True))),
            "teams": sorted(set(choices.exclude(owner_team="").values_list("owner_team", flat=True))),
            "stale_seconds": settings.SERVER_STALE_SECONDS,
            "down_seconds": settings.SERVER_DOWN_SECONDS,
        },
    )


def _server_or_404(server_id) -> Server:
    try:
        return Server.objects.get(pk=uuid.UUID(str(server_id)))
    except (ValueError, Server.DoesNotExist):
        raise Http404("no such server")


EVENTS_READ, EVENTS_SHOWN = 200, 20


@dataclass
class EventRun:
    """Events in a row that say the same thing (an agent's local alert every 10 s): one line, counted."""

    event: Event
    count: int = 1
    since: datetime | None = None

    @property
    def key(self) -> str:
        e = self.event
        return "|".join((e.status, e.event_type, e.source, e.summary))


def fold_repeats(events: list[Event]) -> list[EventRun]:
    """Newest first in, newest first out; consecutive events with one key become one run."""
    runs: list[EventRun] = []
    for event in events:
        run = EventRun(event, since=event.ts)
        if runs and runs[-1].key == run.key:
            runs[-1].count += 1
            runs[-1].since = event.ts
        else:
            runs.append(run)
    return runs


@login_required
@require_GET
def server_detail(request: HttpRequest, server_id) -> HttpResponse:
    """One server: its charts, latest snapshot, recent logs and events (its alerts: the alert_summary tag)."""
    server = _server_or_404(server_id)
    rng = charts.range_for(request.GET.get("range"))
    snapshot = Snapshot.objects.filter(server=server).first()
    since = timezone.now() - timedelta(days=1)
    logs = list(LogEntry.objects.filter(server=server, ts__gte=since).order_by("-ts")[:40])
    recent = Event.objects.filter(server=server, ts__gte=timezone.now() - timedelta(days=7)).order_by("-ts")
    events = fold_repeats(list(recent[:EVENTS_READ]))[:EVENTS_SHOWN]
    payload = (snapshot.payload or {}) if snapshot else {}
    if snapshot:
        snapshot.server = server
    body = snapshot_body(snapshot) if snapshot else None
    return render(
        request,
        "dashboards/server.html",
        {
            "server": server,
            "status": server.status,
            "ranges": charts.RANGES,
            "range": rng,
            "snapshot": snapshot,
            "docker_events": (payload.get("docker_events") or [])[-15:][::-1],
            "snapshot_body": body,
            "processes": body["processes"] if body else [],
            "logs": logs,
            "events": events,
            "series_count": Series.objects.filter(server=server).count(),
        },
    )


@login_required
@require_GET
def server_timeline(request: HttpRequest, server_id) -> HttpResponse:
    """One time axis for the server: alerts, events, docker events, error lines, deploys, anomalies (live)."""
    server = _server_or_404(server_id)
    kinds = [k for k in request.GET.getlist("kind") if k in timeline.KINDS] or list(timeline.KINDS)
    end = timezone.now()
    items = timeline.timeline(server, end - timedelta(days=1), end, kinds, limit=300)
    return render(
        request,
        "dashboards/timeline.html",
        {"server": server, "status": server.status, "kinds": timeline.KINDS, "chosen": kinds, "items": items},
    )


@login_required
@require_GET
def series_data(request: HttpRequest, server_id) -> JsonResponse:
    """The server's charts as JSON: ?range=15m…30d, or ?from=&to= (epoch seconds) around an alert;
    ?add=type.name,… draws charts picked from the catalog."""
    server = _server_or_404(server_id)
    rng = charts.range_for(request.GET.get("range"))
    series = Series.objects.filter(server=server).order_by("metric_type", "name", "id")
    if request.GET.get("metric_type"):
        series = series.filter(metric_type=request.GET["metric_type"])
    if request.GET.get("metric_name"):
        series = series.filter(name=request.GET["metric_name"])
    start = end = None
    try:
        if request.GET.get("from") and request.GET.get("to"):
            start = datetime.fromtimestamp(float(request.GET["from"]), UTC)
            end = datetime.fromtimestamp(float(request.GET["to"]), UTC)
            span = max(60, (end - start).total_seconds())
            rng = next((r for r in charts.RANGES if r.seconds >= span), charts.RANGES[-1])
    except (ValueError, OverflowError):
        return JsonResponse(
            error_body("from and to are epoch seconds", [{"field": "from", "message": "epoch seconds"}]), status=400
        )
    added = frozenset(key for key in request.GET.get("add", "").split(",") if key)
    payload = charts.chart_payload(list(series), rng, end=end, start=start, added=added)
    # deploys and notes are drawn on every chart as vertical marks
    payload["annotations"] = [
        {"ts": a.ts.timestamp(), "kind": a.kind, "title": a.title}
        for a in timeline.annotations_for(server, *_span(payload))[:200]
    ]
    return JsonResponse(payload)


def _span(payload: dict) -> tuple[datetime, datetime]:
    return datetime.fromtimestamp(payload["from"], UTC), datetime.fromtimestamp(payload["to"], UTC)


LOG_RANGES = {"15m": 900, "1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400}


@login_required
@require_GET
def logs(request: HttpRequest) -> HttpResponse:
    """Logs explorer: full-text search, level and service filters, live tail, error patterns."""
    q = (request.GET.get("q") or "").strip()[:200]
    levels = [lvl for lvl in request.GET.getlist("level") if lvl in LogLevel.values]
    service = (request.GET.get("service") or "").strip()
    window = request.GET.get("range") if request.GET.get("range") in LOG_RANGES else "1h"
    since = timezone.now() - timedelta(seconds=LOG_RANGES[window])
    entries = LogEntry.objects.filter(ts__gte=since)
    if levels:
        entries = entries.filter(level__in=levels)
    if service:
        entries = entries.filter(service=service)
    if q:
        entries = entries.extra(where=["search @@ websearch_to_tsquery('simple', %s)"], params=[q])  # noqa: S610
    rows = list(entries.select_related("server", "template").order_by("-ts")[:200])
    return render(
        request,
        "dashboards/logs.html",
        {
            "rows": rows,
            "q": q,
            "levels": levels,
            "level_choices": LogLevel.values,
            "service": service,
            "range": window,
            "ranges": list(LOG_RANGES),
            "services": _service_names(),
            "patterns": _error_patterns(since, service),
        },
    )


def _service_names() -> list[str]:
    return list(Server.objects.filter(kind=ServerKind.SERVICE).order_by("hostname").values_list("hostname", flat=True))


def _error_patterns(since: datetime, service: str = "") -> list[dict]:
    """Error lines grouped into templates by the log template miner (drain3), most frequent first."""
    where = LogFilter(services=[service] if service else [], levels=["ERROR", "CRITICAL"], start=since)
    patterns = error_patterns(where, limit=10)["patterns"]
    for pattern in patterns:
        pattern["last_seen"] = from_text(pattern["last_seen"])
        pattern["service"] = ", ".join(pattern["services"])
    return patterns


@login_required
@require_GET
def services(request: HttpRequest) -> HttpResponse:
    """Each service: error rate over the window, volume, silence, latest critical lines."""
    window = settings.LOG_ERROR_RATE_WINDOW_SECONDS
    rows = [
        {
            "name": h.name,
            "server": h.server,
            "server_id": h.server_id or "",
            "total": h.logs_in_window,
            "errors": h.errors_in_window,
            "rate": h.error_rate,
            "last": h.last_log_at,
            "state": h.status,
            "reasons": h.reasons,
        }
        for h in services_health()
    ]
    critical = list(
        LogEntry.objects.filter(ts__gte=timezone.now() - timedelta(hours=1), level=LogLevel.CRITICAL).order_by("-ts")[
            :10
        ]
    )
    return render(
        request,
        "dashboards/services.html",
        {
            "rows": rows,
            "critical": critical,
            "window_minutes": window // 60,
            "threshold": settings.LOG_ERROR_RATE_THRESHOLD,
            "silent_minutes": settings.SERVICE_SILENT_SECONDS // 60,
            "counts": Counter(r["state"] for r in rows),
        },
    )


@login_required
@require_GET
def events(request: HttpRequest) -> HttpResponse:
    """Event monitor (seed 003): each event's status, severity, reasons, suggestions and decision."""
    status = request.GET.get("status") if request.GET.get("status") in EventStatus.values else ""
    source = (request.GET.get("source") or "").strip()
    since = timezone.now() - timedelta(hours=24)
    found = Event.objects.filter(ts__gte=since)
    with connection.cursor() as cursor:
        cursor.execute("SELECT status, count(*) FROM monitoring_event WHERE ts >= %s GROUP BY 1", [since])
        counts = dict(cursor.fetchall())
    if status:
        found = found.filter(status=status)
    if source:
        found = found.filter(source=source)
    rows = list(found.select_related("server").order_by("-ts")[:150])
    decisions = Counter(e.decision for e in rows)
    by_source: dict[str, Counter] = defaultdict(Counter)
    for e in rows:
        by_source[e.source][e.status] += 1
    overall = "CRITICAL" if counts.get("CRITICAL") else "WARNING" if counts.get("WARNING") else "NORMAL"
    return render(
        request,
        "dashboards/events.html",
        {
            "rows": rows,
            "status": status,
            "source": source,
            "statuses": EventStatus.values,
            "counts": {s: counts.get(s, 0) for s in EventStatus.values},
            "overall": overall,
            "decisions": sorted(decisions.items(), key=lambda kv: -kv[1]),
        },
    )


@login_required
@require_GET
def storage(request: HttpRequest) -> HttpResponse:
    """Storage: each layer's size, days held and bytes per sample; today's rate; when the cap or the disk fills."""
    report = capacity.report()
    capped = Event.objects.filter(source=capacity.CONSOLE_METRIC_TYPE, event_type="storage_cap").order_by("-ts")[:10]
    return render(
        request,
        "dashboards/storage.html",
        {
            "report": report,
            "chart": _projection_chart(report),
            "capped": list(capped),
            "horizon": capacity.HORIZON_DAYS,
        },
    )


def _projection_chart(report: capacity.StorageReport, width: int = 720, height: int = 220) -> dict:
    """An SVG polyline of the projected database size, with the cap and the disk as horizontal lines."""
    limits = {"cap": report.cap_bytes}
    if report.disk_free is not None:
        limits["disk"] = report.database_bytes + report.disk_free
    top = max([size for _, size in report.projection] + [v for v in limits.values() if v]) * 1.05 or 1

    def y(size: float) -> float:
        return round(height - size / top * height, 1)

    last = max(len(report.projection) - 1, 1)
    points = " ".join(f"{round(i / last * width, 1)},{y(size)}" for i, (_, size) in enumerate(report.projection))
    lines = {name: y(value) for name, value in limits.items() if value}
    return {"width": width, "height": height, "points": points, "lines": lines, "top": top}
