"""PromQL evaluation with Prometheus' semantics, over the steps of an instant or range query.

Like Prometheus' engine (promql/engine.go), every expression is evaluated at
all steps at once: an instant vector becomes one vector per step, a scalar one
value per step. Selectors read their samples once for the whole query.

Semantics kept from Prometheus 2.x for float samples:
- an instant selector takes, at each step's reference time (the step, or its
  ``@`` time, minus ``offset``), the latest sample no older than the lookback
  delta (5 minutes by default), both ends included;
- a range selector takes the samples of ``[ref - range, ref]``, both ends included;
- a subquery evaluates its expression at the multiples of its step (absolute,
  from the Unix epoch) that fall in ``[ref - range, ref]``;
- ``@ start()`` and ``@ end()`` are the query's own start and end, even inside subqueries.
"""

from __future__ import annotations

from dataclasses import dataclass

import promql_parser as pp

from monitoring.promql import aggregations, binops, functions
from monitoring.promql.catalog import SeriesReader
from monitoring.promql.model import (
    BadData,
    Labels,
    Matrix,
    PromQLError,
    RangeSeries,
    Sample,
    Scalar,
    String,
    Value,
    Vectors,
    check_unique,
    without_name,
)
from monitoring.promql.syntax import matchers_of, ms_at, ms_of, unwrap


@dataclass(frozen=True)
class Options:
    lookback_ms: int = 300_000
    # the step of a subquery written without one (Prometheus: the global evaluation interval)
    subquery_step_ms: int = 60_000
    # the query's own start and end, for @ start() and @ end()
    query_start: int = 0
    query_end: int = 0


class Evaluator:
    """Evaluates expressions at the steps start, start + interval, ..., end (milliseconds)."""

    def __init__(self, reader: SeriesReader, start: int, end: int, interval: int, options: Options):
        self.reader = reader
        self.options = options
        self.times = list(range(start, end + 1, interval)) if interval > 0 else [start]

    def child(self, start: int, end: int, interval: int) -> Evaluator:
        return Evaluator(self.reader, start, end, interval, self.options)

    # --- dispatch -------------------------------------------------------------------------------
    def eval(self, node) -> Value:
        node = unwrap(node)
        if isinstance(node, pp.NumberLiteral):
            return Scalar([node.val] * len(self.times))
        if isinstance(node, pp.StringLiteral):
            return String(node.val)
        if isinstance(node, pp.VectorSelector):
            return self.vector_selector(node)
        if isinstance(node, (pp.MatrixSelector, pp.SubqueryExpr)):
            return self.matrix(node)
        if isinstance(node, pp.Call):
            return functions.call(self, node)
        if isinstance(node, pp.AggregateExpr):
            return aggregations.evaluate(self, node)
        if isinstance(node, pp.BinaryExpr):
            return binops.evaluate(self, node)
        if isinstance(node, pp.UnaryExpr):
            return self.negate(self.eval(node.expr))
        raise PromQLError(f"unsupported expression {type(node).__name__}")

    def scalar(self, node) -> list[float]:
        value = self.eval(node)
        if not isinstance(value, Scalar):
            raise PromQLError("expected a scalar")
        return value.values

    def vectors(self, node) -> list[list[Sample]]:
        value = self.eval(node)
        if not isinstance(value, Vectors):
            raise PromQLError("expected an instant vector")
        return value.steps

    def negate(self, value: Value) -> Value:
        if isinstance(value, Scalar):
            return Scalar([-v for v in value.values])
        if isinstance(value, Vectors):
            return Vectors([check_unique([(without_name(lbl), -v) for lbl, v in step]) for step in value.steps])
        raise PromQLError("unary minus applies to scalars and instant vectors only")

    # --- selectors ------------------------------------------------------------------------------
    def references(self, at, offset) -> list[int]:
        """Each step's reference time: the step (or its @ time) minus the offset."""
        shift = ms_of(offset)
        if at is None:
            return [t - shift for t in self.times]
        if at.type == pp.AtModifierType.Start:
            base = self.options.query_start
        elif at.type == pp.AtModifierType.End:
            base = self.options.query_end
        else:
            base = ms_at(at.at)
        return [base - shift] * len(self.times)

    def vector_selector(self, node: pp.VectorSelector, stamps: bool = False) -> Vectors:
        """The latest sample at or before each reference time, within the lookback delta.

        With ``stamps``, the sample's time in seconds instead of its value (timestamp()).
        """
        refs = self.references(node.at, node.offset)
        lookback = self.options.lookback_ms
        steps: list[list[Sample]] = [[] for _ in refs]
        for series in self.reader.select(matchers_of(node), min(refs) - lookback, max(refs)):
            times, values, labels = series.times, series.values, series.labels
            i, n = 0, len(times)
            for k, ref in enumerate(refs):
                while i < n and times[i] <= ref:
                    i += 1
                if i and times[i - 1] >= ref - lookback:
                    steps[k].append((labels, times[i - 1] / 1000 if stamps else values[i - 1]))
        return Vectors(steps)

    def range_source(self, node) -> tuple[list[RangeSeries], list[int], int]:
        """The series a range selector or subquery reads, each step's window end, and the range."""
        node = unwrap(node)
        span = ms_of(node.range)
        if isinstance(node, pp.MatrixSelector):
            selector = node.vector_selector
            refs = self.references(selector.at, selector.offset)
            return self.reader.select(matchers_of(selector), min(refs) - span, max(refs)), refs, span
        if isinstance(node, pp.SubqueryExpr):
            refs = self.references(node.at, node.offset)
            return self.subquery(node, min(refs) - span, max(refs)), refs, span
        raise BadData("expected a range vector")

    def subquery(self, node: pp.SubqueryExpr, low: int, high: int) -> list[RangeSeries]:
        step = ms_of(node.step) or self.options.subquery_step_ms
        start = step * (low // step)
        if start < low:
            start += step
        if start > high:
            return []
        inner = self.child(start, high, step)
        found: dict[Labels, RangeSeries] = {}
        for t, vector in zip(inner.times, inner.vectors(node.expr), strict=True):
            for labels, value in vector:
                series = found.get(labels)
                if series is None:
                    series = found[labels] = RangeSeries(labels)
                series.times.append(t)
                series.values.append(value)
        return list(found.values())

    def matrix(self, node) -> Matrix:
        """A range selector or subquery as a value: only an instant query can answer one."""
        if len(self.times) != 1:
            raise BadData("range vectors can only be evaluated at one instant")
        source, refs, span = self.range_source(node)
        high = refs[0]
        result = []
        for series in source:
            picked = [(t, v) for t, v in zip(series.times, series.values, strict=True) if high - span <= t <= high]
            if picked:
                result.append(RangeSeries(series.labels, [t for t, _ in picked], [v for _, v in picked]))
        return Matrix(result)


def evaluate(
    expr, reader: SeriesReader, start: int, end: int, interval: int, options: Options
) -> tuple[Evaluator, Value]:
    evaluator = Evaluator(reader, start, end, interval, options)
    return evaluator, evaluator.eval(expr)
