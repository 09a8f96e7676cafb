"""PromQL aggregation operators (sum, avg, ..., topk, quantile, count_values) with by/without.

Per step, samples are grouped by their labels (``by``: the listed ones;
``without``: all but the listed ones and the metric name), in the order groups
are first seen, and each group is folded as Prometheus' engine.go does it
(a running mean for avg, Welford for stddev/stdvar).
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import promql_parser as pp

from monitoring.promql.functions import quantile
from monitoring.promql.model import (
    NAME,
    Labels,
    PromQLError,
    Sample,
    Vectors,
    check_unique,
    format_value,
    with_label,
)
from monitoring.promql.syntax import unwrap

if TYPE_CHECKING:
    from monitoring.promql.engine import Evaluator

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
SUPPORTED = {
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
}


def group_labels(labels: Labels, grouping: frozenset[str], without: bool) -> Labels:
    if without:
        return tuple(pair for pair in labels if pair[0] not in grouping and pair[0] != NAME)
    return tuple(pair for pair in labels if pair[0] in grouping)


def evaluate(ev: Evaluator, node: pp.AggregateExpr) -> Vectors:
    op = str(node.op)
    if op not in SUPPORTED:
        raise PromQLError(f"aggregation {op}() is not supported")
    grouping = frozenset(node.modifier.labels) if node.modifier else frozenset()
    without = node.modifier is not None and node.modifier.type == pp.AggModifierType.Without
    params: list = [None] * len(ev.times)
    if op == "count_values":
        param = unwrap(node.param)
        if not isinstance(param, pp.StringLiteral):
            raise PromQLError("count_values() needs a string parameter")
        if not _LABEL_NAME.match(param.val):
            raise PromQLError(f'invalid label name "{param.val}"')
        params = [param.val] * len(ev.times)
    elif op in ("topk", "bottomk", "quantile"):
        params = ev.scalar(node.param)
    steps = ev.vectors(node.expr)
    pairs = zip(steps, params, strict=True)
    return Vectors([check_unique(aggregate(op, vector, grouping, without, param)) for vector, param in pairs])


def aggregate(op: str, vector: list[Sample], grouping: frozenset[str], without: bool, param) -> list[Sample]:
    if op in ("topk", "bottomk"):
        return _top(op, vector, grouping, without, param)
    if op == "count_values":
        vector = [(with_label(labels, param, format_value(v)), v) for labels, v in vector]
        if not without:
            grouping = grouping | {param}
    groups: dict[Labels, list[float]] = {}
    for labels, v in vector:
        groups.setdefault(group_labels(labels, grouping, without), []).append(v)
    return [(labels, fold(op, values, param)) for labels, values in groups.items()]


def fold(op: str, values: list[float], param) -> float:
    if op == "sum":
        total = 0.0
        for v in values:
            total += v
        return total
    if op == "avg":
        return _mean(values)
    if op == "max":
        best = values[0]
        for v in values[1:]:
            if best < v or math.isnan(best):
                best = v
        return best
    if op == "min":
        best = values[0]
        for v in values[1:]:
            if best > v or math.isnan(best):
                best = v
        return best
    if op in ("count", "count_values"):
        return float(len(values))
    if op == "group":
        return 1.0
    if op in ("stddev", "stdvar"):
        return _spread(op, values)
    if op == "quantile":
        return quantile(param, values)
    raise PromQLError(f"aggregation {op}() is not supported")


def _mean(values: list[float]) -> float:
    mean, count = values[0], 1
    for v in values[1:]:
        count += 1
        if math.isinf(mean):
            if math.isinf(v) and (mean > 0) == (v > 0):
                continue
            if not math.isinf(v) and not math.isnan(v):
                continue
        mean += v / count - mean / count
    return mean


def _spread(op: str, values: list[float]) -> float:
    mean, total, count = values[0], 0.0, 1
    for v in values[1:]:
        count += 1
        delta = v - mean
        mean += delta / count
        total += delta * (v - mean)
    variance = total / count
    return math.sqrt(variance) if op == "stddev" else variance


def _top(op: str, vector: list[Sample], grouping: frozenset[str], without: bool, param: float) -> list[Sample]:
    """topk / bottomk: the k largest (smallest) samples of each group, with their own labels."""
    if math.isnan(param) or abs(param) >= 2**63:
        raise PromQLError(f"Scalar value {format_value(param)} overflows int64")
    k = int(param)
    if k < 1:
        return []
    groups: dict[Labels, list[Sample]] = {}
    for sample in vector:
        groups.setdefault(group_labels(sample[0], grouping, without), []).append(sample)
    out: list[Sample] = []
    for members in groups.values():
        kept = _heap_select(members, k, top=op == "topk")
        out.extend(
            sorted(kept, key=lambda s: (math.isnan(s[1]), 0 if math.isnan(s[1]) else (-s[1] if op == "topk" else s[1])))
        )
    return out


def _heap_select(members: list[Sample], k: int, top: bool) -> list[Sample]:
    """Which samples Prometheus' bounded heap keeps: of equal values, ties go as its heap order makes them."""

    def less(h: list[Sample], i: int, j: int) -> bool:
        if math.isnan(h[i][1]):
            return True
        return h[i][1] < h[j][1] if top else h[i][1] > h[j][1]

    heap = [members[0]]
    for sample in members[1:]:
        head = heap[0][1]
        better = sample[1] > head if top else sample[1] < head
        if len(heap) < k or better or math.isnan(head):
            if len(heap) == k:
                if k == 1:
                    heap[0] = sample
                    continue
                _pop(heap, less)
            heap.append(sample)
            _up(heap, len(heap) - 1, less)
    return heap


def _up(h: list, j: int, less) -> None:
    # Go's container/heap, so that ties resolve the same way
    while j > 0:
        i = (j - 1) // 2
        if not less(h, j, i):
            break
        h[i], h[j] = h[j], h[i]
        j = i


def _down(h: list, i: int, n: int, less) -> None:
    while True:
        j = 2 * i + 1
        if j >= n:
            break
        if j + 1 < n and less(h, j + 1, j):
            j += 1
        if not less(h, j, i):
            break
        h[i], h[j] = h[j], h[i]
        i = j


def _pop(h: list, less) -> None:
    n = len(h) - 1
    h[0], h[n] = h[n], h[0]
    _down(h, 0, n, less)
    h.pop()
