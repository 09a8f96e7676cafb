"""Reading series back: latest values, ranges at a step, and the recent samples of the fleet.

A range query answers, per series, one point per step bucket. Buckets are
aligned on the Unix epoch: bucket ``b`` holds the samples of [b, b + step),
and the range is widened to whole buckets (``from`` rounded down, ``to``
rounded down then one step added), so every source gives the same buckets.

The source follows the step: raw samples for steps that are not whole
minutes, 1-minute roll-ups for whole minutes, 1-hour roll-ups for whole
hours. Roll-ups are refreshed by upkeep every UPKEEP_INTERVAL_SECONDS, so
the buckets of the last few minutes are always computed from raw samples:
results agree across sources (avg is sum / count in all of them).

Every query reads through the (series_id, ts) index of the partitions its
range touches, with constant bounds so PostgreSQL prunes the others while
planning: the cost grows with the points returned, not with the table size.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson
from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.db.models.fields.json import KeyTextTransform

from monitoring import compaction, rollups
from monitoring.models import Series
from monitoring.timestamps import BadTimestamp, iso, parse_timestamp

AGGREGATES = ("avg", "min", "max", "sum", "count", "last")
SOURCES = ("auto", "raw", "1m", "1h")
_STEP = re.compile(r"^(\d+)(s|m|h|d)?$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_EPOCH = "timestamptz '1970-01-01 00:00:00+00'"

# how to fold the rows of each source into one value per bucket
_RAW_AGG = {
    "avg": "sum(value) / count(*)",
    "min": "min(value)",
    "max": "max(value)",
    "sum": "sum(value)",
    "count": "count(*)::float8",
    "last": "(array_agg(value ORDER BY ts DESC, value DESC))[1]",
}
_ROLLUP_AGG = {
    "avg": "sum(sum) / sum(count)",
    "min": "min(min)",
    "max": "max(max)",
    "sum": "sum(sum)",
    "count": "sum(count)::float8",
    "last": "(array_agg(last ORDER BY last_ts DESC, last DESC))[1]",
}
_ROLLUP_TABLES = {"1m": (rollups.MINUTE_TABLE, 60), "1h": (rollups.HOUR_TABLE, 3600)}


class QueryError(ValueError):
    """A parameter that cannot be answered; ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def parse_time(value: str, name: str) -> datetime:
    """RFC 3339 (``2025-11-20T10:00:00Z``) or Unix epoch seconds (milliseconds when 13 digits or more)."""
    try:
        return parse_timestamp(value.strip(), numbers_in_text=True, require_zone=True)
    except BadTimestamp as exc:
        raise QueryError(name, str(exc))


def parse_step(value: str) -> int:
    """A step in seconds from ``10s``, ``5m``, ``1h``, ``1d`` or a bare number of seconds."""
    match = _STEP.match(value.strip().lower())
    if not match or int(match[1]) == 0:
        raise QueryError("step", "expected a positive duration such as 10s, 5m, 1h or 1d")
    return int(match[1]) * _UNITS[match[2] or "s"]


def format_step(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _floor(ts: datetime, step: int) -> datetime:
    seconds = math.floor(ts.timestamp() / step) * step
    return datetime.fromtimestamp(seconds, UTC)


def bucket_count(start: datetime, end: datetime, step: int) -> int:
    """How many step buckets [start, end] spans once widened to whole buckets."""
    return int((_floor(end, step) - _floor(start, step)).total_seconds()) // step + 1


def smallest_step(start: datetime, end: datetime, limit: int) -> int:
    """The smallest step (seconds) giving at most ``limit`` buckets over [start, end]."""
    span = max((end - start).total_seconds(), 0)
    step = max(1, math.ceil(span / max(limit - 1, 1)))
    while bucket_count(start, end, step) > limit:
        step += 1
    return step


@dataclass
class MetricQuery:
    """GET /api/v1/metrics, parsed. Without ``start`` it asks for the latest value of each series."""

    server: str | None = None
    metric_type: str | None = None
    metric_name: str | None = None
    labels: list[tuple[str, str]] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    step: int | None = None
    agg: str = "avg"
    source: str = "auto"

    @classmethod
    def from_params(cls, params, now: datetime | None = None) -> MetricQuery:
        """From query parameters (a QueryDict or a dict of lists); QueryError names a bad one."""
        now = now or datetime.now(UTC)
        query = cls(
            server=_one(params, "server_id") or _one(params, "server"),
            metric_type=_one(params, "metric_type"),
            metric_name=_one(params, "metric_name") or _one(params, "name"),
        )
        for matcher in _many(params, "labels"):
            for part in matcher.split(","):
                key, sep, value = part.partition(":")
                if not sep or not key.strip():
                    raise QueryError("labels", f"expected key:value, got {part!r}")
                query.labels.append((key.strip(), value.strip()))
        start, end = _one(params, "from"), _one(params, "to")
        if start or end:
            query.end = parse_time(end, "to") if end else now
            query.start = parse_time(start, "from") if start else query.end - timedelta(hours=1)
            if query.start > query.end:
                raise QueryError("from", "must not be after to")
        step = _one(params, "step")
        if step:
            query.step = parse_step(step)
        query.agg = (_one(params, "agg") or "avg").lower()
        if query.agg not in AGGREGATES:
            raise QueryError("agg", f"expected one of {', '.join(AGGREGATES)}")
        query.source = (_one(params, "source") or "auto").lower()
        if query.source not in SOURCES:
            raise QueryError("source", f"expected one of {', '.join(SOURCES)}")
        if query.source in _ROLLUP_TABLES:
            width = _ROLLUP_TABLES[query.source][1]
            if query.step is None or query.step % width:
                raise QueryError("source", f"{query.source} roll-ups need a step that is a multiple of {query.source}")
        if query.start is not None:
            query.check_size()
        return query

    def check_size(self) -> None:
        """Refuse a step giving more than MAX_QUERY_POINTS points per series (raw ranges are counted as read)."""
        limit = settings.MAX_QUERY_POINTS
        if self.step is None or bucket_count(self.start, self.end, self.step) <= limit:
            return
        raise QueryError(
            "step",
            f"{bucket_count(self.start, self.end, self.step)} points per series is more than {limit}; "
            f"the smallest allowed step for this range is {format_step(smallest_step(self.start, self.end, limit))}",
        )

    @property
    def chosen_source(self) -> str:
        if self.start is None:
            return "latest"
        if self.step is None:
            return "raw"
        if self.source != "auto":
            return self.source
        if self.step % 3600 == 0:
            return "1h"
        if self.step % 60 == 0:
            return "1m"
        return "raw"

    def series(self) -> list[dict]:
        """The matching series, with their server, by hostname, type, name and labels."""
        found = Series.objects.all()
        if self.server:
            found = found.filter(_server_filter(self.server))
        if self.metric_type:
            found = found.filter(metric_type=self.metric_type)
        if self.metric_name:
            found = found.filter(name=self.metric_name)
        for i, (key, value) in enumerate(self.labels):
            found = found.annotate(**{f"_label{i}": KeyTextTransform(key, "labels")}).filter(**{f"_label{i}": value})
        rows = found.order_by("server__hostname", "metric_type", "name", "labels", "id").values(
            "id", "server_id", "server__hostname", "metric_type", "name", "labels"
        )
        limit = settings.MAX_QUERY_SERIES
        rows = list(rows[: limit + 1])
        if len(rows) > limit:
            raise QueryError(
                "server_id", f"more than {limit} series match; narrow with server_id, metric_type, metric_name, labels"
            )
        return rows

    def run(self) -> list[dict]:
        """The answer: a list of series, each with its points [[timestamp, value], ...]."""
        found = self.series()
        ids = [row["id"] for row in found]
        if not ids:
            points = {}
        elif self.start is None:
            points = latest(ids)
        elif self.step is None:
            points = raw_points(ids, self.start, self.end, settings.MAX_QUERY_POINTS)
            if any(len(p) > settings.MAX_QUERY_POINTS for p in points.values()):
                limit = settings.MAX_QUERY_POINTS
                raise QueryError(
                    "step",
                    f"more than {limit} samples per series in this range; the smallest allowed step is "
                    f"{format_step(smallest_step(self.start, self.end, limit))}",
                )
        else:
            points = bucketed(ids, self.start, self.end, self.step, self.agg, self.chosen_source)
        return [self._answer(row, points.get(row["id"], [])) for row in found]

    def _answer(self, row: dict, points: list[tuple[datetime, float]]) -> dict:
        """A series under the read APIs' names (server_id, hostname, metric_type, metric_name, labels);
        ``id``, ``server`` and ``name`` are kept for scripts that use them. Without a range, the one
        latest point is also given as ``timestamp`` and ``value``."""
        server_id = str(row["server_id"])
        answer = {
            "id": row["id"],
            "series_id": row["id"],
            "server_id": server_id,
            "server": server_id,
            "hostname": row["server__hostname"],
            "metric_type": row["metric_type"],
            "metric_name": row["name"],
            "name": row["name"],
            "labels": row["labels"],
            "points": [[iso(ts), value] for ts, value in points],
        }
        if self.start is None:
            answer["timestamp"], answer["value"] = (iso(points[-1][0]), points[-1][1]) if points else (None, None)
        return answer


def _one(params, name: str) -> str | None:
    value = params.get(name)
    if isinstance(value, list):
        value = value[-1] if value else None
    return value.strip() or None if isinstance(value, str) else value


def _many(params, name: str) -> list[str]:
    if hasattr(params, "getlist"):
        return [v for v in params.getlist(name) if v.strip()]
    value = params.get(name) or []
    return [v for v in ([value] if isinstance(value, str) else value) if v.strip()]


def _server_filter(server: str) -> Q:
    try:
        return Q(server_id=uuid.UUID(server))
    except ValueError:
        return Q(server__hostname=server)


def latest(ids: list[int]) -> dict[int, list[tuple[datetime, float]]]:
    """The newest sample of each series: one index probe per series.

    Looked for in the last day first, a bound PostgreSQL prunes partitions with
    while planning (unbounded, the plan would list every day partition); only
    series silent for longer are looked for in the whole table.
    """
    since = datetime.now(UTC) - timedelta(days=1)
    found = _latest(ids, since)
    silent = [series_id for series_id in ids if series_id not in found]
    if silent:
        found.update(_latest(silent, None))
        # their last sample may sit in a compacted day: the newer of the two (late rows beside chunks)
        for series_id, (ts, value) in compaction.latest_compacted(silent).items():
            if series_id not in found or (ts, value) > found[series_id][0]:
                found[series_id] = [(ts, value)]
    return found


def _latest(ids: list[int], since: datetime | None) -> dict[int, list[tuple[datetime, float]]]:
    # the newest row and the newest run of each series, then the newer of the two
    rows_bound = "AND ts >= %s" if since else ""
    runs_bound = "AND first_ts >= %s" if since else ""
    run_since = since - compaction.MAX_RUN_SPAN if since else None
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT s.id, l.ts, l.value FROM unnest(%s::bigint[]) AS s(id)
            CROSS JOIN LATERAL (
                SELECT ts, value FROM (
                    (SELECT ts, value FROM monitoring_sample WHERE series_id = s.id {rows_bound}
                     ORDER BY ts DESC LIMIT 1)
                    UNION ALL
                    (SELECT last_ts, value[cardinality(value)] FROM {compaction.RUN_TABLE}
                     WHERE series_id = s.id {runs_bound} ORDER BY first_ts DESC LIMIT 1)
                ) newest ORDER BY ts DESC, value DESC LIMIT 1
            ) l
            """,
            [ids, since, run_since] if since else [ids],
        )
        return {series_id: [(ts, value)] for series_id, ts, value in cursor.fetchall()}


def raw_points(ids: list[int], start: datetime, end: datetime, limit: int) -> dict[int, list[tuple]]:
    """The samples of [start, end] of each series, at most ``limit`` + 1 each (one more tells it was cut)."""
    samples = compaction.samples_from(start, end, ids)
    if not compaction.reaches_chunks(start):
        # one index range scan per series, stopping at the limit
        sql = f"""
            SELECT s.id, p.ts, p.value FROM unnest(%s::bigint[]) AS s(id)
            CROSS JOIN LATERAL (
                SELECT ts, value FROM {samples} x
                WHERE series_id = s.id AND ts >= %s AND ts <= %s ORDER BY ts LIMIT %s
            ) p
            """
    else:
        # compacted days come as one array: read it once, number each series' samples
        sql = f"""
            SELECT series_id, ts, value FROM (
                SELECT series_id, ts, value, row_number() OVER (PARTITION BY series_id ORDER BY ts) AS n
                FROM {samples} x WHERE series_id = ANY(%s::bigint[]) AND ts >= %s AND ts <= %s
            ) p WHERE n <= %s ORDER BY series_id, ts
            """
    with connection.cursor() as cursor:
        cursor.execute(sql, [ids, start, end, limit + 1])
        return _grouped(cursor.fetchall())


def bucketed(ids: list[int], start: datetime, end: datetime, step: int, agg: str, source: str) -> dict:
    """One (bucket start, value) per step bucket holding data, from raw samples or a roll-up table."""
    lo = _floor(start, step)
    hi = _floor(end, step) + timedelta(seconds=step)
    parts, params = [], []
    if source in _ROLLUP_TABLES:
        table, width = _ROLLUP_TABLES[source]
        # roll-ups lag upkeep by up to UPKEEP_INTERVAL_SECONDS: the freshest buckets come from raw samples
        fresh = _floor(datetime.now(UTC) - timedelta(seconds=2 * settings.UPKEEP_INTERVAL_SECONDS + width), step)
        split = min(max(fresh, lo), hi)
        if split > lo:
            parts.append(_bucket_sql(table, "bucket", _ROLLUP_AGG[agg]))
            params += [f"{step} seconds", ids, lo, split]
        lo = split
    if lo < hi:
        parts.append(_bucket_sql(compaction.samples_from(lo, hi, ids), "ts", _RAW_AGG[agg]))
        params += [f"{step} seconds", ids, lo, hi]
    if not parts:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts) + " ORDER BY 1, 2", params)
        return _grouped(cursor.fetchall())


def _bucket_sql(table: str, column: str, aggregate: str) -> str:
    return f"""
        (SELECT series_id, date_bin(%s::interval, {column}, {_EPOCH}) AS b, {aggregate} AS v
         FROM {table} x WHERE series_id = ANY(%s::bigint[]) AND {column} >= %s AND {column} < %s
         GROUP BY 1, 2)
    """


def _grouped(rows) -> dict[int, list[tuple]]:
    points: dict[int, list[tuple]] = {}
    for series_id, ts, value in rows:
        points.setdefault(series_id, []).append((ts, value))
    return points


def recent(server: str | None = None, seconds: int | None = None, limit: int | None = None) -> list[dict]:
    """Every sample of the last ``seconds`` (RETENTION_SECONDS), newest first, optionally of one server."""
    seconds = settings.RETENTION_SECONDS if seconds is None else seconds
    limit = settings.MAX_QUERY_POINTS if limit is None else limit
    since = datetime.now(UTC) - timedelta(seconds=seconds)
    where, params = "s.ts >= %s", [since]
    ids = None
    if server:
        ids = list(Series.objects.filter(_server_filter(server)).values_list("id", flat=True))
        if not ids:
            return []
        where += " AND s.series_id = ANY(%s::bigint[])"
        params.append(ids)
    samples = compaction.samples_from(since, datetime.now(UTC), ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT s.ts, s.value, r.server_id, v.hostname, r.metric_type, r.name, r.labels::text
            FROM (SELECT series_id, ts, value FROM {samples} s WHERE {where} ORDER BY ts DESC LIMIT %s) s
            JOIN monitoring_series r ON r.id = s.series_id
            JOIN servers_server v ON v.id = r.server_id
            ORDER BY s.ts DESC, r.id
            """,
            [*params, limit],
        )
        rows = cursor.fetchall()
    return [
        {
            "timestamp": iso(ts),
            "server_id": str(server_id),
            "hostname": hostname,
            "metric_type": metric_type,
            "metric_name": name,
            "labels": orjson.loads(labels),
            "value": value,
        }
        for ts, value, server_id, hostname, metric_type, name, labels in rows
    ]
