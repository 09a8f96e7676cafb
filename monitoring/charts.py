"""What the dashboards draw: ranges and their steps, series points, headline figures and sparklines.

Points come from the query layer (monitoring/query.py: raw samples for fine
steps, roll-ups for whole minutes and hours), so a 30-day chart reads hourly
roll-ups, not millions of samples.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitoring import chart_layout, query
from monitoring.live.groups import headline_kind
from monitoring.models import Series


@dataclass(frozen=True)
class Range:
    key: str
    label: str
    seconds: int
    step: int  # seconds per point; whole minutes and hours read roll-ups


RANGES = [
    Range("15m", "15 min", 900, 10),
    Range("1h", "1 hour", 3600, 30),
    Range("6h", "6 hours", 6 * 3600, 120),
    Range("24h", "24 hours", 86400, 600),
    Range("7d", "7 days", 7 * 86400, 3600),
    Range("30d", "30 days", 30 * 86400, 4 * 3600),
]
RANGES_BY_KEY = {r.key: r for r in RANGES}
DEFAULT_RANGE = RANGES_BY_KEY["1h"]


def range_for(key: str | None) -> Range:
    return RANGES_BY_KEY.get(key or "", DEFAULT_RANGE)


def points(ids: list[int], start: datetime, end: datetime, step: int) -> dict[int, list[tuple[datetime, float]]]:
    """Average per step bucket of each series, from the source the step calls for."""
    if not ids:
        return {}
    source = "1h" if step % 3600 == 0 else "1m" if step % 60 == 0 else "raw"
    return query.bucketed(ids, start, end, step, "avg", source)


def chart_payload(
    series: list[Series],
    rng: Range,
    end: datetime | None = None,
    start: datetime | None = None,
    added: frozenset[str] = frozenset(),
) -> dict:
    """JSON for the page's uPlot charts, in page order (monitoring/chart_layout.py).

    One chart per (metric type, name), one line per label set, at most ten lines
    and "other"; ``catalog`` lists the charts not drawn, for the page's picker;
    ``max_series_id`` lets the page tell a new series from one it chose not to draw.
    """
    end = end or datetime.now(UTC)
    start = start or end - timedelta(seconds=rng.seconds)
    drawn, offered = chart_layout.shown_by_default(chart_layout.arrange(series), set(added))
    read = {c.key: c.series[: chart_layout.MAX_SERIES_PER_CHART] for c in drawn}
    found = points([s.pk for chosen in read.values() for s in chosen], start, end, rng.step)
    charts = []
    for chart in drawn:
        lines = [
            {
                "series_id": s.pk,
                "label": chart_layout.label_of(s),
                "points": [[ts.timestamp(), value] for ts, value in found.get(s.pk, [])],
            }
            for s in read[chart.key]
        ]
        charts.append(
            {
                "key": chart.key,
                "metric_type": chart.metric_type,
                "name": chart.name,
                "group": chart.group,
                "lines": chart_layout.fold(lines),
            }
        )
    return {
        "range": rng.key,
        "step": rng.step,
        "from": start.timestamp(),
        "to": end.timestamp(),
        "charts": charts,
        "catalog": [{"key": c.key, "group": c.group, "series": len(c.series)} for c in offered],
        "max_series_id": max((s.pk for s in series), default=0),
    }


def headline_series(server_ids: list) -> dict[str, dict[str, int]]:
    """server id -> {cpu|memory|disk: series id}: the series that stands for each headline figure."""
    best: dict[tuple[str, str], tuple[tuple, int]] = {}
    rows = Series.objects.filter(server_id__in=server_ids).values_list(
        "id", "server_id", "metric_type", "name", "labels"
    )
    for series_id, server_id, metric_type, name, labels in rows:
        kind = headline_kind(metric_type, name)
        if kind is None:
            continue
        # an unlabelled series (the whole machine) beats per-core or per-mount ones; usage/percent names first
        text = f"{metric_type}.{name}".lower()
        rank = (bool(labels), not any(w in text for w in ("usage", "percent", "used")), series_id)
        key = (str(server_id), kind)
        if key not in best or rank < best[key][0]:
            best[key] = (rank, series_id)
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for (server_id, kind), (_, series_id) in best.items():
        out[server_id][kind] = series_id
    return out


def sparklines(ids: list[int], minutes: int = 30, step: int = 60) -> dict[int, list[float]]:
    """The last ``minutes`` of each series as one value per ``step`` seconds (for fleet sparklines)."""
    end = datetime.now(UTC)
    found = points(ids, end - timedelta(minutes=minutes), end, step)
    return {series_id: [round(v, 2) for _, v in values] for series_id, values in found.items()}
