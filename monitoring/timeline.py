"""One timeline per host: everything that happened to a server on one time axis.

Kinds: ``alert`` (fired, acknowledged, suppressed, resolved), ``event`` (seed 003
events, agents' local alerts), ``docker`` (docker events), ``log`` (ERROR and
CRITICAL lines), ``annotation`` (deploys and notes, the server's and the
fleet's) and ``anomaly`` (events judged anomalous, alerts of anomaly rules).

monitoring/ knows its own data; other apps add theirs with ``register`` (the
alerts app does, in its AppConfig.ready), so imports keep going one way.
Each source reads one indexed range of its table, newest first, at most
``limit`` rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.db import connection

from monitoring.models import Annotation, Event
from monitoring.timestamps import iso
from servers.models import Server

KINDS = ("alert", "event", "docker", "log", "annotation", "anomaly")
DOCKER_SOURCE = "docker"
ERROR_LEVELS = ["ERROR", "CRITICAL"]


@dataclass(slots=True)
class Item:
    ts: datetime
    kind: str
    title: str
    detail: str = ""
    severity: str = ""
    link: str = ""
    data: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["ts"] = self.ts.isoformat()
        out["timestamp"] = iso(self.ts)  # the read APIs' name for it (ts kept)
        return out


Source = Callable[[Server, datetime, datetime, set[str], int], Iterable[Item]]
_sources: dict[str, Source] = {}


def register(name: str, source: Source) -> None:
    """Add a source of items (another app's facts about a server); registering twice replaces it."""
    _sources[name] = source


def timeline(server: Server, start: datetime, end: datetime, kinds: Iterable[str] = KINDS, limit: int = 500):
    """The server's items in [start, end], of the kinds asked, newest first, at most ``limit``."""
    wanted = set(kinds) & set(KINDS)
    items: list[Item] = []
    for source in (_events, _logs, _annotations, *_sources.values()):
        items.extend(item for item in source(server, start, end, wanted, limit) if item.kind in wanted)
    items.sort(key=lambda item: item.ts, reverse=True)
    return items[:limit]


def _events(server: Server, start: datetime, end: datetime, wanted: set[str], limit: int) -> list[Item]:
    if not wanted & {"event", "docker", "anomaly"}:
        return []
    rows = Event.objects.filter(server=server, ts__gte=start, ts__lte=end).order_by("-ts")[:limit]
    items = []
    for event in rows:
        anomalous = any(str(reason).startswith("Anomaly") for reason in event.reasons or [])
        kind = DOCKER_SOURCE if event.source == DOCKER_SOURCE else "anomaly" if anomalous else "event"
        detail = "; ".join(str(r) for r in (event.reasons or [])[:3]) or _short(event.data)
        items.append(
            Item(
                ts=event.ts,
                kind=kind,
                title=f"{event.source}: {event.event_type}",
                detail=detail,
                severity=event.status.lower(),
                data={"source": event.source, "status": event.status, "id": event.id},
            )
        )
    return items


def _logs(server: Server, start: datetime, end: datetime, wanted: set[str], limit: int) -> list[Item]:
    if "log" not in wanted:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT ts, service, level, message FROM monitoring_logentry
            WHERE server_id = %s AND ts >= %s AND ts <= %s AND level = ANY(%s)
            ORDER BY ts DESC LIMIT %s""",
            [server.pk, start, end, ERROR_LEVELS, limit],
        )
        rows = cursor.fetchall()
    return [
        Item(ts=ts, kind="log", title=f"{level} in {service}", detail=message[:300], severity=level.lower())
        for ts, service, level, message in rows
    ]


def _annotations(server: Server, start: datetime, end: datetime, wanted: set[str], limit: int) -> list[Item]:
    if "annotation" not in wanted:
        return []
    return [
        Item(
            ts=a.ts,
            kind="annotation",
            title=f"{a.kind}: {a.title}",
            detail=a.text[:300],
            link=a.url,
            data={"id": a.pk, "kind": a.kind, "fleet": a.server_id is None, "author": a.author, "tags": a.tags},
        )
        for a in annotations_for(server, start, end)[:limit]
    ]


def annotations_for(server: Server, start: datetime, end: datetime):
    """The server's annotations and the fleet's (no server), newest first."""
    from django.db.models import Q

    return Annotation.objects.filter(Q(server=server) | Q(server__isnull=True), ts__gte=start, ts__lte=end)


def _short(data: dict) -> str:
    text = ", ".join(f"{k}={v}" for k, v in list((data or {}).items())[:4])
    return text[:300]
