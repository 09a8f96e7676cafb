"""Searching log entries: filters, full-text, keyset (cursor) pagination, newest first.

Cost grows with the page, not with the table: the query walks the ``(ts, id)``
primary key of the day partitions backwards from the cursor and stops after
``limit`` rows; a time range prunes partitions; ``q`` is matched against the
generated ``search`` tsvector (GIN index) with ``websearch_to_tsquery('simple', q)``
(words, "quoted phrases", -exclusions, OR).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from django.db import connection

from config.errors import BadInput
from monitoring.timestamps import from_text, iso
from servers.models import hostname_sql

TABLE = "monitoring_logentry"
COLUMNS = f"id, ts, server_id, service, level, message, metadata, source, {hostname_sql(f'{TABLE}.server_id')}"
# the line's template and its classification (monitoring/log_classification.py), NULL until classified
CLASSIFICATION = (
    "(SELECT jsonb_build_object('template_id', t.id, 'template', t.template, 'category', t.category, "
    "'severity', t.severity, 'reason', t.reason, 'classified_by', t.classified_by) "
    "FROM monitoring_logtemplate t WHERE t.id = template_id)"
)


@dataclass(slots=True)
class LogFilter:
    services: list[str] = field(default_factory=list)
    server_ids: list[str] = field(default_factory=list)
    levels: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    q: str | None = None

    def where(self) -> tuple[list[str], list]:
        clauses, params = [], []
        if self.services:
            clauses.append("service = ANY(%s)")
            params.append(self.services)
        if self.server_ids:
            clauses.append("server_id = ANY(%s::uuid[])")
            params.append(self.server_ids)
        if self.levels:
            clauses.append("level = ANY(%s)")
            params.append(self.levels)
        if self.start:
            clauses.append("ts >= %s")
            params.append(self.start)
        if self.end:
            clauses.append("ts < %s")
            params.append(self.end)
        if self.q:
            clauses.append("search @@ websearch_to_tsquery('simple', %s)")
            params.append(self.q)
        return clauses, params


def encode_cursor(ts: datetime, id_: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([iso(ts), id_])).decode().rstrip("=")


def decode_cursor(raw: str) -> tuple[datetime, int]:
    try:
        ts, id_ = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        return from_text(ts), int(id_)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise BadInput("cursor", "not a cursor this API gave out")


def _json(value):
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def entry(row) -> dict:
    """A line as the APIs answer it; rows selected with CLASSIFICATION also carry its classification."""
    id_, ts, server_id, service, level, message, metadata, source, hostname, *classification = row
    found = {
        "id": id_,
        "timestamp": iso(ts),
        "server_id": str(server_id) if server_id else None,
        "hostname": hostname,
        "service": service,
        "level": level,
        "message": message,
        "metadata": _json(metadata),
        "source": source,
    }
    if classification:
        found["classification"] = _json(classification[0])
    return found


def search(where: LogFilter, *, limit: int = 100, cursor: str | None = None) -> tuple[list[dict], str | None]:
    """A page of matching log entries, newest first, and the cursor of the next page (or None)."""
    clauses, params = where.where()
    if cursor:
        ts, id_ = decode_cursor(cursor)
        clauses.append("(ts, id) < (%s, %s)")
        params += [ts, id_]
    sql = f"SELECT {COLUMNS}, {CLASSIFICATION} FROM {TABLE}"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY ts DESC, id DESC LIMIT %s"
    with connection.cursor() as db:
        db.execute(sql, [*params, limit + 1])
        rows = db.fetchall()
    following = None
    if len(rows) > limit:
        rows = rows[:limit]
        following = encode_cursor(rows[-1][1], rows[-1][0])
    return [entry(row) for row in rows], following
