"""The evidence pack: what the model (and the rule-based fallback) is shown about a window.

Sections, most important first: the rule and alert (when there is one), each
affected series against its trailing baseline, the top log templates with
sample error lines, evaluated events with their reasons, recent docker events
and agents' local alerts. Lists are in a fixed order (no set or dict
iteration decides it), so the same data gives the same pack, and the pack is
cut to ANALYSIS_TOKEN_BUDGET approximate tokens before it is sent and stored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
from django.conf import settings
from django.db import connection
from django.db.models import Count, Q

from monitoring import log_analytics
from monitoring.compaction import samples_from
from monitoring.models import Event, LogEntry, Snapshot
from monitoring.timestamps import iso

# Sources under which ingest stores docker events and agents' own alerts (see ingest/).
DOCKER_SOURCE = "docker"
AGENT_SOURCE = "agent"
PROBLEM_LEVELS = ("WARNING", "ERROR", "CRITICAL")
ERROR_LEVELS = ("ERROR", "CRITICAL")

MAX_SERIES = 40
MAX_TEMPLATES = 20
MAX_ERROR_SAMPLES = 15
MAX_EVENTS = 30
MAX_MINED_LINES = 5000
MAX_TEXT = 300
MAX_SNAPSHOTS = 5
MAX_PROCESSES = 5
BASELINE_FACTOR = 3
BASELINE_MIN = timedelta(minutes=30)
BASELINE_MAX = timedelta(hours=24)

# Focus areas as seed 003 spells them (response_times, error_rates…) -> words found in metric names.
FOCUS_WORDS = {
    "response_time": ("response", "latency", "duration"),
    "latency": ("latency", "response", "duration"),
    "error": ("error", "err", "fail", "5xx", "exception"),
    "cpu": ("cpu", "load"),
    "memory": ("mem", "ram", "swap", "oom"),
    "disk": ("disk", "fs", "filesystem", "io", "inode"),
    "network": ("net", "rx", "tx", "packet", "conn"),
}

# Trimming order when over budget: least telling first, series last.
TRIM_ORDER = ("error_samples", "snapshots", "agent_alerts", "docker_events", "events", "log_templates", "series")


@dataclass
class Window:
    """What to look at: [start, end), optionally some servers, series and focus areas."""

    start: datetime
    end: datetime
    server_ids: list[str] | None = None
    series_ids: list[int] = field(default_factory=list)
    focus_areas: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)  # log services; empty: all

    @classmethod
    def lookback(cls, minutes: int, *, end: datetime, **kwargs) -> Window:
        return cls(start=end - timedelta(minutes=minutes), end=end, **kwargs)

    @property
    def baseline_start(self) -> datetime:
        length = min(max((self.end - self.start) * BASELINE_FACTOR, BASELINE_MIN), BASELINE_MAX)
        return self.start - length


def approx_tokens(value) -> int:
    """About four bytes of compact JSON per token: good enough for a budget."""
    return math.ceil(len(orjson.dumps(value)) / 4)


def build(window: Window, *, head: dict | None = None, budget: int | None = None) -> dict:
    """The evidence pack of ``window``; ``head`` (the rule and alert) goes first, untrimmed."""
    pack: dict = {
        "window": {
            "start": iso(window.start),
            "end": iso(window.end),
            "minutes": round((window.end - window.start).total_seconds() / 60, 1),
            "baseline_start": iso(window.baseline_start),
        },
        "scope": {
            "servers": _hostnames(window.server_ids),
            "services": list(window.services) or "all",
            "focus_areas": list(window.focus_areas),
        },
    }
    pack.update(head or {})
    pack["series"] = series_summaries(window)
    logs = log_summary(window)
    pack["log_counts"] = logs["counts"]
    pack["log_templates"] = logs["templates"]
    pack["error_samples"] = logs["error_samples"]
    pack["event_counts"] = event_counts(window)
    pack["events"] = evaluated_events(window)
    pack["docker_events"] = source_events(window, DOCKER_SOURCE)
    pack["agent_alerts"] = source_events(window, AGENT_SOURCE)
    pack["snapshots"] = latest_snapshots(window)
    return fit(pack, budget if budget is not None else settings.ANALYSIS_TOKEN_BUDGET)


def fit(pack: dict, budget: int) -> dict:
    """Halve the least telling lists until the pack fits ``budget``; note what was left out."""
    omitted: dict[str, int] = {}
    while approx_tokens(pack) > budget:
        for name in TRIM_ORDER:
            items = pack.get(name)
            if items:
                keep = len(items) // 2
                omitted[name] = omitted.get(name, 0) + len(items) - keep
                pack[name] = items[:keep]
                break
        else:
            break  # nothing left to cut: the head alone is over budget
        pack["omitted"] = dict(sorted(omitted.items()))
    pack["approx_tokens"] = approx_tokens(pack)
    return pack


def series_summaries(window: Window) -> list[dict]:
    """Each series with samples in the window against its trailing baseline, most changed first.

    Affected series (window.series_ids) come first, then those matching a focus
    area, then by how far the window's mean moved from the baseline's (in
    baseline standard deviations, or per cent when the baseline is flat).
    """
    where = ["ts >= %(start)s", "ts < %(end)s"]
    params: dict = {
        "start": window.start,
        "end": window.end,
        "bstart": window.baseline_start,
        "affected": list(window.series_ids),
        "words": _focus_words(window.focus_areas),
        "limit": MAX_SERIES,
    }
    chosen = None
    if window.server_ids:
        where.append("series_id IN (SELECT id FROM monitoring_series WHERE server_id = ANY(%(servers)s::uuid[]))")
        params["servers"] = [str(s) for s in window.server_ids]
        chosen = ("SELECT id FROM monitoring_series WHERE server_id = ANY(%s::uuid[])", [params["servers"]])
    # over compacted days the chunks of each range are decoded once, for the servers asked about
    in_window = samples_from(window.start, window.end, chosen)
    in_baseline = samples_from(window.baseline_start, window.start, chosen)
    sql = f"""
        WITH w AS (
            SELECT series_id, min(value) AS mn, max(value) AS mx, avg(value) AS mean, count(*) AS n,
                   (array_agg(value ORDER BY ts DESC))[1] AS last
            FROM {in_window} x WHERE {" AND ".join(where)}
            GROUP BY series_id
        ), b AS (
            SELECT series_id, min(value) AS mn, max(value) AS mx, avg(value) AS mean,
                   stddev_pop(value) AS sd, count(*) AS n
            FROM {in_baseline} x
            WHERE ts >= %(bstart)s AND ts < %(start)s AND series_id IN (SELECT series_id FROM w)
            GROUP BY series_id
        ), scored AS (
            SELECT w.*, b.mn AS b_mn, b.mx AS b_mx, b.mean AS b_mean, b.sd AS b_sd, b.n AS b_n,
                   s.metric_type, s.name, s.labels, srv.hostname,
                   w.series_id = ANY(%(affected)s) AS affected,
                   EXISTS (SELECT 1 FROM unnest(%(words)s::text[]) AS word
                           WHERE lower(s.metric_type || '.' || s.name) LIKE '%%' || word || '%%') AS focused,
                   CASE WHEN b.mean IS NULL THEN 0
                        ELSE abs(w.mean - b.mean) / greatest(b.sd, abs(b.mean) * 0.01, 1e-9) END AS score
            FROM w LEFT JOIN b USING (series_id)
            JOIN monitoring_series s ON s.id = w.series_id
            JOIN servers_server srv ON srv.id = s.server_id
        )
        SELECT * FROM scored
        ORDER BY affected DESC, focused DESC, score DESC, hostname, metric_type, name, series_id
        LIMIT %(limit)s
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [col.name for col in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    return [_series_item(row) for row in rows]


def _series_item(row: dict) -> dict:
    item = {
        "server": row["hostname"],
        "series": _series_name(row["metric_type"], row["name"], row["labels"]),
        "window": {
            "min": _num(row["mn"]),
            "max": _num(row["mx"]),
            "mean": _num(row["mean"]),
            "last": _num(row["last"]),
            "samples": row["n"],
        },
    }
    if row["b_n"]:
        item["baseline"] = {
            "min": _num(row["b_mn"]),
            "max": _num(row["b_mx"]),
            "mean": _num(row["b_mean"]),
            "stddev": _num(row["b_sd"]),
            "samples": row["b_n"],
        }
        item["change"] = _num(row["mean"] - row["b_mean"])
        if row["b_mean"]:
            item["change_pct"] = _num((row["mean"] - row["b_mean"]) / abs(row["b_mean"]) * 100)
        if row["b_sd"]:
            item["z"] = _num((row["last"] - row["b_mean"]) / row["b_sd"])
    else:
        item["baseline"] = None
    if row["affected"]:
        item["affected"] = True
    return item


def log_summary(window: Window) -> dict:
    """Counts per level, the top templates of problem lines (drain3) and the latest error lines."""
    logs = LogEntry.objects.filter(ts__gte=window.start, ts__lt=window.end)
    if window.server_ids:
        logs = logs.filter(server_id__in=window.server_ids)
    if window.services:
        logs = logs.filter(service__in=window.services)
    counts = {row["level"]: row["n"] for row in logs.values("level").annotate(n=Count("id")).order_by("level")}
    problems = list(
        logs.filter(level__in=PROBLEM_LEVELS)
        .order_by("-ts", "-id")
        .values_list("ts", "id", "level", "service", "message", "server__hostname")[:MAX_MINED_LINES]
    )
    problems.reverse()  # oldest first: drain3's clusters depend on the order it is fed
    templates = mine_templates([(ts, service, message[:1000]) for ts, _, _, service, message, _ in problems])
    samples = [
        {
            "ts": iso(ts),
            "server": hostname,
            "service": service,
            "level": level,
            "message": message[:MAX_TEXT],
        }
        for ts, _, level, service, message, hostname in reversed(problems)
        if level in ERROR_LEVELS
    ][:MAX_ERROR_SAMPLES]
    return {"counts": counts, "templates": templates, "error_samples": samples}


def mine_templates(lines: list[tuple[datetime, str, str]]) -> list[dict]:
    """(ts, service, message) lines, oldest first -> the most frequent templates (the log analytics' miner)."""
    if not lines:
        return []
    return [
        {
            "template": item["template"][:MAX_TEXT],
            "count": item["count"],
            "first_seen": item["first_seen"],
            "last_seen": item["last_seen"],
            "example": item["example"][:MAX_TEXT],
            "services": item["services"][:5],
        }
        for item in log_analytics.mine(lines)[:MAX_TEMPLATES]
    ]


def _events(window: Window):
    events = Event.objects.filter(ts__gte=window.start, ts__lt=window.end)
    if window.server_ids:
        events = events.filter(server_id__in=window.server_ids)
    return events


def event_counts(window: Window) -> dict:
    rows = (
        _events(window)
        .exclude(source__in=(DOCKER_SOURCE, AGENT_SOURCE))
        .values("status")
        .annotate(n=Count("id"))
        .order_by("status")
    )
    return {row["status"]: row["n"] for row in rows}


def evaluated_events(window: Window) -> list[dict]:
    """Events evaluated WARNING or CRITICAL, most severe first, with their reasons."""
    rows = (
        _events(window)
        .exclude(source__in=(DOCKER_SOURCE, AGENT_SOURCE))
        .filter(Q(status__in=("WARNING", "CRITICAL")))
        .select_related("server")
        .order_by("-severity", "-ts", "-id")[:MAX_EVENTS]
    )
    return [
        {
            "ts": iso(event.ts),
            "server": event.server.hostname if event.server else None,
            "source": event.source,
            "event_type": event.event_type,
            "status": event.status,
            "severity": _num(event.severity),
            "reasons": [str(reason)[:MAX_TEXT] for reason in (event.reasons or [])][:5],
            "suggestions": [str(text)[:MAX_TEXT] for text in (event.suggestions or [])][:3],
            "decision": event.decision,
            "data": _clip(event.data),
        }
        for event in rows
    ]


def source_events(window: Window, source: str) -> list[dict]:
    """The latest events of one source (docker events, agents' local alerts)."""
    rows = _events(window).filter(source=source).select_related("server").order_by("-ts", "-id")[:MAX_EVENTS]
    return [
        {
            "ts": iso(event.ts),
            "server": event.server.hostname if event.server else None,
            "event_type": event.event_type,
            "status": event.status,
            "data": _clip(event.data),
        }
        for event in rows
    ]


def latest_snapshots(window: Window) -> list[dict]:
    """The scoped servers' latest snapshots (score, busiest processes); none for a fleet-wide window."""
    if not window.server_ids:
        return []
    rows = (
        Snapshot.objects.filter(server_id__in=window.server_ids[:MAX_SNAPSHOTS], ts__lt=window.end)
        .select_related("server")
        .order_by("server__hostname")
    )
    found = []
    for snapshot in rows:
        processes = [p for p in (snapshot.processes or []) if isinstance(p, dict)]
        processes.sort(key=lambda p: (-_float(p.get("cpu_percent")), str(p.get("name", ""))))
        found.append(
            {
                "server": snapshot.server.hostname,
                "ts": iso(snapshot.ts),
                "score": _num(snapshot.score),
                "top_processes": [
                    {key: p.get(key) for key in ("pid", "name", "cpu_percent", "memory_mb") if key in p}
                    for p in processes[:MAX_PROCESSES]
                ],
            }
        )
    return found


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _hostnames(server_ids: list[str] | None) -> list[str] | str:
    if not server_ids:
        return "all"
    from servers.models import Server

    return sorted(Server.objects.filter(id__in=server_ids).values_list("hostname", flat=True))


def _focus_words(areas: list[str]) -> list[str]:
    words: list[str] = []
    for area in areas:
        key = area.strip().lower().rstrip("s").replace("-", "_")
        matched = [ws for name, ws in FOCUS_WORDS.items() if name in key]
        for group in matched or [tuple(part for part in key.split("_") if len(part) > 2)]:
            words.extend(w for w in group if w not in words)
    return words


def _series_name(metric_type: str, name: str, labels: dict | None) -> str:
    text = f"{metric_type}.{name}"
    if isinstance(labels, str | bytes):  # raw cursors hand jsonb over as text
        labels = orjson.loads(labels)
    if labels:
        text += "{" + ",".join(f"{k}={v}" for k, v in sorted(labels.items())) + "}"
    return text


def _clip(data, limit: int = 400):
    """A JSON value kept whole when small, else a truncated JSON text of it."""
    text = orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()
    return data if len(text) <= limit else text[:limit] + "…"


def _num(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    if not math.isfinite(value):
        return None
    return float(f"{value:.4g}")
