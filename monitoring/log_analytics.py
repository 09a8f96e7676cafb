"""Log analytics (seed 004): counts grouped by level, service and time bucket; error patterns.

Counting is one GROUP BY in PostgreSQL over the filtered window. Error
patterns come from drain3's template miner (Drain: a fixed-depth parse tree
that groups lines by their constant tokens and turns varying ones, such as
numbers, ids and addresses, into ``<*>``) run over the most recent error lines,
bounded by ``PATTERN_MAX_LINES``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connection
from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig

from monitoring.log_search import TABLE, LogFilter
from monitoring.timestamps import iso

GROUPS = ("level", "service", "time")
PATTERN_MAX_LINES = 20_000
BUCKETS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "6h": 21600, "1d": 86400}


def count(where: LogFilter, group_by: list[str], bucket_seconds: int) -> list[dict]:
    """Matching log lines counted per group (any of level, service, time bucket)."""
    clauses, params = where.where()
    select, keys = [], []
    for group in group_by:
        if group == "time":
            select.append("date_bin(make_interval(secs => %s), ts, TIMESTAMPTZ '2000-01-01') AS bucket")
            params = [bucket_seconds, *params]
            keys.append("bucket")
        else:
            select.append(group)
            keys.append(group)
    sql = f"SELECT {', '.join([*select, 'count(*)'])} FROM {TABLE}"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    if keys:
        sql += f" GROUP BY {', '.join(keys)} ORDER BY {', '.join(keys)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    names = ["time" if k == "bucket" else k for k in keys]
    found = []
    for row in rows:
        item = {name: (iso(value) if name == "time" else value) for name, value in zip(names, row, strict=False)}
        item["count"] = row[-1]
        found.append(item)
    return found


def trends(service: str, *, hours: int, bucket_seconds: int, now: datetime | None = None) -> dict:
    """Counts per level per time bucket for one service, every bucket present (zeros included)."""
    now = now or datetime.now(UTC)
    start = now - timedelta(hours=hours)
    rows = count(LogFilter(services=[service], start=start, end=now), ["time", "level"], bucket_seconds)
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    first = epoch + timedelta(seconds=((start - epoch).total_seconds() // bucket_seconds) * bucket_seconds)
    buckets: dict[str, dict] = {}
    at = first
    while at <= now:
        buckets[iso(at)] = {"time": iso(at), "DEBUG": 0, "INFO": 0, "WARNING": 0, "ERROR": 0, "CRITICAL": 0}
        at += timedelta(seconds=bucket_seconds)
    for row in rows:
        bucket = buckets.setdefault(row["time"], {"time": row["time"]})
        bucket[row["level"]] = bucket.get(row["level"], 0) + row["count"]
    series = sorted(buckets.values(), key=lambda b: b["time"])
    for bucket in series:
        total = sum(v for k, v in bucket.items() if k != "time")
        bucket["total"] = total
        errors = bucket.get("ERROR", 0) + bucket.get("CRITICAL", 0)
        bucket["error_rate"] = round(errors / total, 4) if total else 0.0
    return {"service_name": service, "hours": hours, "bucket_seconds": bucket_seconds, "buckets": series}


@dataclass(slots=True)
class Pattern:
    cluster_id: int
    count: int
    first_seen: datetime
    last_seen: datetime
    example: str
    services: set[str]
    template_ids: Counter = field(default_factory=Counter)


# ids, addresses and numbers become <*> before clustering, so a line seen once already has its lasting template
_MASKS = [
    r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",  # UUIDs
    r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b",  # IPv4 addresses, with a port
    r"(?i)\b0x[0-9a-f]+\b",  # hex literals
    r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?![\w.])",  # numbers standing alone
]


def miner() -> TemplateMiner:
    config = TemplateMinerConfig()
    config.masking_instructions = [MaskingInstruction(pattern, "*") for pattern in _MASKS]
    config.profiling_enabled = False
    config.drain_sim_th = 0.4
    config.drain_depth = 4
    config.drain_extra_delimiters = ["=", ",", ";"]
    config.parametrize_numeric_tokens = True
    return TemplateMiner(config=config)


def mine(lines) -> list[dict]:
    """Group (ts, service, message) lines, oldest first, into templates with counts, first/last seen, an example.

    Lines may carry a fourth item, the id of their classified template: a pattern then
    answers the ids its lines had, most common first (``template_ids``).
    """
    template_miner = miner()
    patterns: dict[int, Pattern] = {}
    for ts, service, message, *classified in lines:
        cluster_id = template_miner.add_log_message(message)["cluster_id"]
        pattern = patterns.get(cluster_id)
        if pattern is None:
            pattern = patterns[cluster_id] = Pattern(cluster_id, 0, ts, ts, message, {service})
        pattern.count += 1
        pattern.first_seen = min(pattern.first_seen, ts)
        pattern.last_seen = max(pattern.last_seen, ts)
        pattern.services.add(service)
        if classified and classified[0] is not None:
            pattern.template_ids[classified[0]] += 1
    templates = {cluster.cluster_id: cluster.get_template() for cluster in template_miner.drain.clusters}
    ranked = sorted(patterns.values(), key=lambda p: (-p.count, p.first_seen))
    return [
        {
            "template": templates[p.cluster_id],
            "count": p.count,
            "first_seen": iso(p.first_seen),
            "last_seen": iso(p.last_seen),
            "example": p.example,
            "services": sorted(p.services),
            "template_ids": [template_id for template_id, _ in p.template_ids.most_common()],
        }
        for p in ranked
    ]


def error_patterns(where: LogFilter, *, limit: int) -> dict:
    """The templates of the most recent matching lines (at most PATTERN_MAX_LINES), most frequent first."""
    clauses, params = where.where()
    sql = f"SELECT ts, service, message, template_id FROM {TABLE}"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY ts DESC, id DESC LIMIT %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, PATTERN_MAX_LINES])
        lines = cursor.fetchall()
    lines.reverse()
    found = mine(lines)
    classified = classifications(pattern["template_ids"][0] for pattern in found[:limit] if pattern["template_ids"])
    for pattern in found[:limit]:
        ids = pattern.pop("template_ids")
        pattern["classification"] = classified.get(ids[0]) if ids else None
    return {
        "lines_analysed": len(lines),
        "truncated": len(lines) == PATTERN_MAX_LINES,
        "total_patterns": len(found),
        "patterns": found[:limit],
    }


def classifications(template_ids) -> dict[int, dict]:
    """The stored classification of log templates, by id (one query)."""
    ids = list(set(template_ids))
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, template, category, severity, reason, classified_by FROM monitoring_logtemplate "
            "WHERE id = ANY(%s)",
            [ids],
        )
        return {
            id_: {
                "template_id": id_,
                "template": template,
                "category": category,
                "severity": severity,
                "reason": reason,
                "classified_by": by,
            }
            for id_, template, category, severity, reason, by in cursor.fetchall()
        }
