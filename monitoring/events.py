"""Events (seed 003) in the store: record with a verdict, query, health, stats, re-evaluate, clean up.

Events live in the day-partitioned ``monitoring_event`` table and are written
through monitoring/storage.py; the verdict of monitoring/event_rules.py is stored
with each event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson
from django.conf import settings
from django.db import connection, transaction
from psycopg.types.json import Jsonb

from monitoring import event_rules, partitions, records, storage
from monitoring.choices import EventStatus
from monitoring.live.publisher import publish_write
from monitoring.timestamps import iso
from servers.models import hostname_sql

TABLE = "monitoring_event"
MAX_RE_EVALUATE = 10_000
HEALTH_WINDOW_SECONDS = 300


@dataclass(slots=True)
class Submitted:
    source: str
    event_type: str
    data: dict
    metadata: dict = field(default_factory=dict)
    ts: datetime | None = None
    server_id: str | None = None
    hostname: str = ""  # the server's, for the live frame


def record(event: Submitted) -> tuple[int, datetime, event_rules.Verdict]:
    """Judge an event against its source's history, fold it into that history and store both, atomically."""
    ts = event.ts or datetime.now(UTC)
    with connection.cursor() as cursor:  # a new day's partition in a short transaction of its own
        partitions.ensure_for_write(cursor.cursor, {TABLE: {partitions.day_of(ts)}})
    with transaction.atomic():
        history = event_rules.fold_in(event.server_id, event.source, event_rules.measures(event.data))
        verdict = event_rules.evaluate(event.data, history)
        batch = records.Batch(
            events=[
                records.EventRecord(
                    ts=ts,
                    server_id=event.server_id,
                    source=event.source,
                    event_type=event.event_type,
                    data=event.data,
                    metadata=event.metadata,
                    status=str(verdict.status),
                    severity=verdict.severity,
                    reasons=verdict.reasons,
                    suggestions=verdict.suggestions,
                    decision=str(verdict.decision),
                )
            ],
            hostnames={event.server_id: event.hostname} if event.server_id and event.hostname else {},
        )
        result = storage.write(batch)
    publish_write(batch, result)  # after commit; best-effort
    return result.event_ids[0], ts, verdict


@dataclass(slots=True)
class EventQuery:
    limit: int = 100
    offset: int = 0
    statuses: list[str] = field(default_factory=list)
    source: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def where(self) -> tuple[str, list]:
        clauses, params = ["TRUE"], []
        if self.statuses:
            clauses.append("status = ANY(%s)")
            params.append(self.statuses)
        if self.source:
            clauses.append("source = %s")
            params.append(self.source)
        if self.start:
            clauses.append("ts >= %s")
            params.append(self.start)
        if self.end:
            clauses.append("ts < %s")
            params.append(self.end)
        return " AND ".join(clauses), params


def _json(value):
    """A jsonb column read through Django's connection (which leaves JSON as text)."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


COLUMNS = (
    "id, ts, server_id, source, event_type, data, metadata, status, severity, reasons, suggestions, decision, "
    f"llm_review, {hostname_sql(f'{TABLE}.server_id')}"
)


def _entry(row) -> dict:
    id_, ts, server_id, source, event_type, data, metadata, status, severity, reasons, suggestions, decision = row[:12]
    review, hostname = row[12:14]
    return {
        "id": id_,
        "timestamp": iso(ts),
        "server_id": str(server_id) if server_id else None,
        "hostname": hostname,
        "source": source,
        "event_type": event_type,
        "input_snapshot": {"data": _json(data), "metadata": _json(metadata)},
        "status": status,
        "severity_score": severity,
        "reasons": _json(reasons),
        "suggestions": _json(suggestions),
        "decision": decision,
        # the model's second opinion (ENABLE_LLM_MONITORING), beside the rules' verdict; null until given
        "llm_review": _json(review),
    }


def search(query: EventQuery) -> list[dict]:
    """Stored events with their verdicts, newest first."""
    where, params = query.where()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {COLUMNS} FROM {TABLE} WHERE {where} ORDER BY ts DESC, id DESC LIMIT %s OFFSET %s",
            [*params, query.limit, query.offset],
        )
        return [_entry(row) for row in cursor.fetchall()]


def health(now: datetime | None = None) -> dict:
    """The system as the events of the last few minutes judge it (seed 003 GET health)."""
    now = now or datetime.now(UTC)
    since = now - timedelta(seconds=HEALTH_WINDOW_SECONDS)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*), max(ts) FROM {TABLE}")
        total, last_update = cursor.fetchone()
        cursor.execute(
            f"SELECT status, severity FROM {TABLE} WHERE ts >= %s ORDER BY severity DESC, ts DESC LIMIT 1", [since]
        )
        worst = cursor.fetchone()
        cursor.execute(
            f"SELECT reasons FROM {TABLE} WHERE ts >= %s AND status <> %s ORDER BY ts DESC LIMIT 50",
            [since, EventStatus.NORMAL],
        )
        issues: list[str] = []
        for (reasons,) in cursor.fetchall():
            for reason in _json(reasons):
                if reason not in issues and len(issues) < 10:
                    issues.append(reason)
    return {
        "current_status": worst[0] if worst else EventStatus.NORMAL.value,
        "severity_score": worst[1] if worst else 0.0,
        "last_update": iso(last_update) if last_update else None,
        "recent_issues": issues,
        "total_events_processed": total,
        "window_seconds": HEALTH_WINDOW_SECONDS,
    }


def stats(now: datetime | None = None) -> dict:
    now = now or datetime.now(UTC)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT status, count(*), avg(severity), count(*) FILTER (WHERE ts >= %s) FROM {TABLE} GROUP BY status",
            [now - timedelta(hours=24)],
        )
        by_status = {
            status: {"count": count, "average_severity": round(avg, 3), "last_24h": recent}
            for status, count, avg, recent in cursor.fetchall()
        }
        cursor.execute(f"SELECT decision, count(*) FROM {TABLE} GROUP BY decision")
        by_decision = dict(cursor.fetchall())
        cursor.execute(
            f"SELECT source, count(*), avg(severity), max(ts) FROM {TABLE} "
            "GROUP BY source ORDER BY count(*) DESC LIMIT 20"
        )
        by_source = [
            {
                "source": source,
                "count": count,
                "average_severity": round(avg, 3),
                "last_event": iso(last),
            }
            for source, count, avg, last in cursor.fetchall()
        ]
        cursor.execute("SELECT count(*) FROM monitoring_fieldstats")
        baselines = cursor.fetchone()[0]
    total = sum(s["count"] for s in by_status.values())
    return {
        "total_events": total,
        "by_status": {status: by_status.get(status, {"count": 0}) for status in EventStatus.values},
        "by_decision": by_decision,
        "top_sources": by_source,
        "last_24h": sum(s.get("last_24h", 0) for s in by_status.values()),
        "anomaly_baselines": baselines,
        "thresholds": {
            "warning": settings.WARNING_THRESHOLD,
            "critical": settings.CRITICAL_THRESHOLD,
            "response_time_ms": settings.EVENT_RESPONSE_TIME_MS,
            "cpu_usage": settings.EVENT_CPU_USAGE,
            "memory_usage": settings.EVENT_MEMORY_USAGE,
            "error_rate": settings.EVENT_ERROR_RATE,
            "latency_ms": settings.EVENT_LATENCY_MS,
            "anomaly_z_score": settings.EVENT_ANOMALY_Z_SCORE,
        },
    }


def re_evaluate(lookback_minutes: int, now: datetime | None = None) -> dict:
    """Judge the events of the last minutes again with today's rules and settings; store changed verdicts.

    Anomalies are judged against the running statistics as they are now (read,
    not updated: the values are already in them).
    """
    now = now or datetime.now(UTC)
    since = now - timedelta(minutes=lookback_minutes)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT ts, id, server_id, source, data, status, severity, reasons, decision FROM {TABLE} "
            "WHERE ts >= %s ORDER BY ts DESC LIMIT %s",
            [since, MAX_RE_EVALUATE],
        )
        rows = cursor.fetchall()
    cache: dict[tuple, dict] = {}
    changed = []
    by_status = {status: 0 for status in EventStatus.values}
    for ts, id_, server_id, source, data, status, severity, reasons, decision in rows:
        data, reasons = _json(data), _json(reasons)
        names = event_rules.measures(data)
        known = cache.setdefault((server_id, source), {})
        missing = [n for n in names if n not in known]
        if missing:
            known.update({n: None for n in missing})
            known.update(event_rules.baselines(server_id, source, missing))
        history = {n: b for n, b in known.items() if b is not None}
        verdict = event_rules.evaluate(data, history)
        by_status[str(verdict.status)] += 1
        fresh = (str(verdict.status), verdict.severity, verdict.reasons, str(verdict.decision))
        if fresh != (status, severity, reasons, decision):
            changed.append((ts, id_, verdict))
    if changed:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE {TABLE} e SET status = v.status, severity = v.severity, reasons = v.reasons,
                    suggestions = v.suggestions, decision = v.decision
                FROM unnest(%s::timestamptz[], %s::bigint[], %s::text[], %s::float8[], %s::jsonb[], %s::jsonb[],
                            %s::text[]) AS v(ts, id, status, severity, reasons, suggestions, decision)
                WHERE e.ts = v.ts AND e.id = v.id
                """,
                [
                    [c[0] for c in changed],
                    [c[1] for c in changed],
                    [str(c[2].status) for c in changed],
                    [c[2].severity for c in changed],
                    [Jsonb(c[2].reasons) for c in changed],
                    [Jsonb(c[2].suggestions) for c in changed],
                    [str(c[2].decision) for c in changed],
                ],
            )
    return {
        "lookback_minutes": lookback_minutes,
        "re_evaluated": len(rows),
        "changed": len(changed),
        "by_status": by_status,
        "truncated": len(rows) == MAX_RE_EVALUATE,
    }


def clean_up(older_than: datetime) -> dict:
    """Remove events older than a time: whole day partitions are dropped, rows deleted only in the partial day."""
    dropped, deleted = [], 0
    with transaction.atomic(), connection.cursor() as cursor:
        for name, day in partitions.existing(cursor, TABLE):
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            if start + timedelta(days=1) <= older_than:
                cursor.execute(f'DROP TABLE "{name}"')
                dropped.append(name)
            elif start < older_than:
                cursor.execute(f'DELETE FROM "{name}" WHERE ts < %s', [older_than])
                deleted += cursor.rowcount
    partitions.forget(TABLE)
    return {
        "older_than": iso(older_than),
        "dropped_partitions": dropped,
        "deleted_rows": deleted,
    }
