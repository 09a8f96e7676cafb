"""The console's series as Prometheus sees them, and their samples.

Naming: series from the Prometheus and OpenTelemetry receivers keep their own
``__name__`` and labels; every other series is named ``<metric_type>_<name>``
with characters outside ``[a-zA-Z0-9_:]`` replaced by ``_``. Every series also
carries ``host``, its server's hostname (a series' own ``host`` label wins).

Selecting: equality matchers narrow the series dictionary in SQL; every
matcher is then checked exactly (Prometheus' anchored regular expressions) in
Python. Samples are read through monitoring.query, the one place that knows
how samples are stored.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from django.db import connection

from monitoring import query
from monitoring.promql.model import NAME, Labels, PromQLError, RangeSeries, TooManySamples, labels_of

RECEIVER_TYPES = ("prometheus", "otlp")
HOST = "host"
_INVALID = re.compile(r"[^a-zA-Z0-9_:]")
_LITERAL_ALTERNATION = re.compile(r"^[a-zA-Z0-9_:]+(\|[a-zA-Z0-9_:]+)*$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
# the console's name of a series, as SQL (the same rule as metric_name below)
_SQL_NAME = (
    "CASE WHEN s.metric_type IN ('prometheus', 'otlp') THEN s.name "
    "ELSE regexp_replace(s.metric_type || '_' || s.name, '[^a-zA-Z0-9_:]', '_', 'g') END"
)


def metric_name(metric_type: str, name: str) -> str:
    if metric_type in RECEIVER_TYPES:
        return name
    return _INVALID.sub("_", f"{metric_type}_{name}")


def series_labels(metric_type: str, name: str, labels: dict, hostname: str) -> Labels:
    pairs = {key: _text(value) for key, value in labels.items()}
    pairs.setdefault(HOST, hostname)
    pairs[NAME] = metric_name(metric_type, name)
    return labels_of(pairs)


def _text(value) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


@functools.lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise PromQLError(f"invalid regular expression {pattern!r}: {exc}") from None


@dataclass(frozen=True)
class Matcher:
    """A label matcher: ``=``, ``!=``, ``=~`` or ``!~`` (regular expressions anchored at both ends)."""

    op: str
    name: str
    value: str

    def matches(self, actual: str) -> bool:
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = _regex(self.value).fullmatch(actual) is not None
        return found if self.op == "=~" else not found

    def sql(self) -> tuple[str, list] | None:
        """A condition narrowing the series dictionary (a superset of the matches), or None."""
        if self.op == "=~" and self.value and _LITERAL_ALTERNATION.match(self.value):
            values = self.value.split("|")
        elif self.op == "=" and self.value:
            values = [self.value]
        else:
            return None
        if self.name == NAME:
            return f"({_SQL_NAME}) = ANY(%s)", [values]
        if self.name == HOST:
            return "(s.labels->>'host' = ANY(%s) OR (s.labels->'host' IS NULL AND v.hostname = ANY(%s)))", [
                values,
                values,
            ]
        return "s.labels->>%s = ANY(%s)", [self.name, values]


def matches_all(labels: Labels, matchers: list[Matcher]) -> bool:
    found = dict(labels)
    return all(m.matches(found.get(m.name, "")) for m in matchers)


class SeriesReader:
    """Reads series and samples for one query, within its limits (PROMQL_MAX_SERIES, PROMQL_MAX_SAMPLES)."""

    def __init__(self, max_series: int, max_samples: int):
        self.max_series = max_series
        self.max_samples = max_samples
        self.samples_read = 0
        self._series: dict[tuple, list[tuple[int, Labels]]] = {}

    def series(self, matchers: list[Matcher]) -> list[tuple[int, Labels]]:
        """(series id, labels) of every series all matchers accept."""
        key = tuple(matchers)
        if key not in self._series:
            self._series[key] = self._find(matchers)
        return self._series[key]

    def _find(self, matchers: list[Matcher]) -> list[tuple[int, Labels]]:
        where, params = ["TRUE"], []
        for matcher in matchers:
            condition = matcher.sql()
            if condition:
                where.append(condition[0])
                params += condition[1]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT s.id, s.metric_type, s.name, s.labels::text, v.hostname FROM monitoring_series s "
                "JOIN servers_server v ON v.id = s.server_id WHERE " + " AND ".join(where) + " ORDER BY s.id",
                params,
            )
            rows = cursor.fetchall()
        found = []
        for series_id, metric_type, name, labels, hostname in rows:
            pairs = series_labels(metric_type, name, orjson.loads(labels), hostname)
            if matches_all(pairs, matchers):
                found.append((series_id, pairs))
        found.sort(key=lambda item: item[1])  # by label set, the order Prometheus' storage gives
        if len(found) > self.max_series:
            raise PromQLError(
                f"the selector matches {len(found)} series, more than PROMQL_MAX_SERIES={self.max_series}"
            )
        return found

    def select(self, matchers: list[Matcher], start_ms: int, end_ms: int) -> list[RangeSeries]:
        """The matching series with their samples in [start_ms, end_ms]; series without any are left out."""
        found = self.series(matchers)
        if not found:
            return []
        left = self.max_samples - self.samples_read
        points = query.raw_points([sid for sid, _ in found], _time(start_ms), _time(end_ms), max(left, 0))
        result = []
        for series_id, labels in found:
            rows = points.get(series_id)
            if not rows:
                continue
            self.samples_read += len(rows)
            if self.samples_read > self.max_samples:
                raise TooManySamples()
            result.append(RangeSeries(labels, [(ts - _EPOCH) // _MS for ts, _ in rows], [v for _, v in rows]))
        return result

    def has_samples(self, ids: list[int], start_ms: int, end_ms: int) -> set[int]:
        """Which of these series hold a sample in [start_ms, end_ms]."""
        if not ids:
            return set()
        return set(query.raw_points(ids, _time(start_ms), _time(end_ms), 0))


def _time(ms: int) -> datetime:
    # clamp to what a datetime holds (years 1 to 9999): Prometheus' "all time" is far wider
    ms = min(max(ms, -62_135_596_800_000), 253_402_300_799_000)
    return _EPOCH + ms * _MS
