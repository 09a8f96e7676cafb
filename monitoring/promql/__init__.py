"""PromQL over the console's samples: parse with promql-parser, evaluate with Prometheus' semantics.

``instant_query`` and ``range_query`` answer the ``data`` of Prometheus' HTTP
API (``{"resultType": ..., "result": ...}``); a PromQLError carries the error
type and status Prometheus would answer.
"""

from __future__ import annotations

import promql_parser as pp
from django.conf import settings

from monitoring.promql import functions  # noqa: F401  (registers holt_winters with the parser)
from monitoring.promql.catalog import Matcher, SeriesReader, matches_all
from monitoring.promql.engine import Options, evaluate
from monitoring.promql.model import (
    BadData,
    Labels,
    Matrix,
    PromQLError,
    Scalar,
    String,
    Vectors,
    format_value,
)
from monitoring.promql.syntax import matchers_of, unwrap, value_type

__all__ = [
    "BadData",
    "Matcher",
    "PromQLError",
    "SeriesReader",
    "instant_query",
    "matches_all",
    "parse",
    "parse_selector",
    "range_query",
]


def parse(text: str):
    try:
        return pp.parse(text)
    except ValueError as exc:
        raise BadData(str(exc)) from None


def parse_selector(text: str) -> list[Matcher]:
    """The matchers of a series selector (a ``match[]`` parameter)."""
    node = unwrap(parse(text))
    if not isinstance(node, pp.VectorSelector):
        raise BadData(f"expected a series selector, got {text!r}")
    return matchers_of(node)


def reader() -> SeriesReader:
    return SeriesReader(settings.PROMQL_MAX_SERIES, settings.PROMQL_MAX_SAMPLES)


def _options(start: int, end: int) -> Options:
    return Options(
        lookback_ms=settings.PROMQL_LOOKBACK_SECONDS * 1000,
        subquery_step_ms=settings.PROMQL_SUBQUERY_STEP_SECONDS * 1000,
        query_start=start,
        query_end=end,
    )


def _metric(labels: Labels) -> dict[str, str]:
    return dict(labels)


def _stamp(ms: int) -> float | int:
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def instant_query(text: str, at_ms: int) -> dict:
    expr = parse(text)
    _, value = evaluate(expr, reader(), at_ms, at_ms, 0, _options(at_ms, at_ms))
    t = _stamp(at_ms)
    if isinstance(value, Scalar):
        return {"resultType": "scalar", "result": [t, format_value(value.values[0])]}
    if isinstance(value, String):
        return {"resultType": "string", "result": [t, value.value]}
    if isinstance(value, Matrix):
        return {"resultType": "matrix", "result": _matrix(sorted(value.series, key=lambda s: s.labels))}
    vector = value.steps[0]
    return {
        "resultType": "vector",
        "result": [{"metric": _metric(labels), "value": [t, format_value(v)]} for labels, v in vector],
    }


def range_query(text: str, start_ms: int, end_ms: int, step_ms: int) -> dict:
    expr = parse(text)
    kind = value_type(expr)
    if kind not in ("vector", "scalar"):
        name = {"matrix": "range vector", "string": "string"}[kind]
        raise BadData(f'invalid expression type "{name}" for range query, must be Scalar or instant Vector')
    evaluator, value = evaluate(expr, reader(), start_ms, end_ms, step_ms, _options(start_ms, end_ms))
    if isinstance(value, Scalar):
        points = [[_stamp(t), format_value(v)] for t, v in zip(evaluator.times, value.values, strict=True)]
        return {"resultType": "matrix", "result": [{"metric": {}, "values": points}]}
    assert isinstance(value, Vectors)
    series: dict[Labels, list] = {}
    for t, vector in zip(evaluator.times, value.steps, strict=True):
        for labels, v in vector:
            series.setdefault(labels, []).append([_stamp(t), format_value(v)])
    return {
        "resultType": "matrix",
        "result": [{"metric": _metric(labels), "values": series[labels]} for labels in sorted(series)],
    }


def _matrix(series) -> list[dict]:
    return [
        {
            "metric": _metric(s.labels),
            "values": [[_stamp(t), format_value(v)] for t, v in zip(s.times, s.values, strict=True)],
        }
        for s in series
    ]
