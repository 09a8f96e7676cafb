"""PromQL's functions over floats, after Prometheus' promql/functions.go.

Range-vector functions (rate, *_over_time, ...) are called once per series and
step with the samples of that step's window; the others once per step with
that step's arguments.
"""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import promql_parser as pp

from monitoring.promql import gomath
from monitoring.promql.model import (
    NAME,
    SAME_LABELSET,
    PromQLError,
    Sample,
    Scalar,
    Value,
    Vectors,
    check_unique,
    label_value,
    labels_of,
    without_name,
)
from monitoring.promql.syntax import string_arg, unwrap, value_type

if TYPE_CHECKING:
    from monitoring.promql.engine import Evaluator

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# Prometheus 2.x's name for double exponential smoothing: taught to the parser once
pp.register_extra_functions(
    [pp.Function("holt_winters", [pp.ValueType.Matrix, pp.ValueType.Scalar, pp.ValueType.Scalar], pp.ValueType.Vector)]
)


@dataclass
class Window:
    """The samples of one series in one step's range, and what the functions need beside them."""

    times: list[int]
    values: list[float]
    start: int  # the range's first instant (ms)
    end: int  # the range's last instant (ms)
    range_ms: int
    ts: int  # the evaluation step
    args: list[float]  # the scalar arguments at this step


# --- range-vector functions -------------------------------------------------------------------
def extrapolated_rate(w: Window, counter: bool, per_second: bool) -> float | None:
    """rate, increase and delta: the change over the window, extrapolated towards its edges."""
    times, values = w.times, w.values
    if len(values) < 2:
        return None
    result = values[-1] - values[0]
    if counter:
        previous = values[0]
        for current in values[1:]:
            if current < previous:
                result += previous
            previous = current
    to_start = (times[0] - w.start) / 1000
    to_end = (w.end - times[-1]) / 1000
    sampled = (times[-1] - times[0]) / 1000
    average = sampled / (len(values) - 1)
    if counter and result > 0 and values[0] >= 0:
        # a counter does not go below zero: extrapolate no further back than where it would be 0
        to_zero = sampled * (values[0] / result)
        if to_zero < to_start:
            to_start = to_zero
    threshold = average * 1.1
    interval = sampled
    interval += to_start if to_start < threshold else average / 2
    interval += to_end if to_end < threshold else average / 2
    factor = interval / sampled
    if per_second:
        factor /= w.range_ms / 1000
    return result * factor


def instant_value(w: Window, per_second: bool) -> float | None:
    """irate and idelta: from the last two samples."""
    if len(w.values) < 2:
        return None
    last, previous = w.values[-1], w.values[-2]
    result = last if per_second and last < previous else last - previous
    interval = w.times[-1] - w.times[-2]
    if interval == 0:
        return None
    return result / (interval / 1000) if per_second else result


def linear_regression(times: list[int], values: list[float], intercept_time: int) -> tuple[float, float]:
    n = sum_x = c_x = sum_y = c_y = sum_xy = c_xy = sum_x2 = c_x2 = 0.0
    constant = all(v == values[0] for v in values[1:])
    if constant:
        return (math.nan, math.nan) if math.isinf(values[0]) else (0.0, values[0])
    for t, v in zip(times, values, strict=True):
        n += 1
        x = (t - intercept_time) / 1e3
        sum_x, c_x = gomath.kahan_inc(x, sum_x, c_x)
        sum_y, c_y = gomath.kahan_inc(v, sum_y, c_y)
        sum_xy, c_xy = gomath.kahan_inc(x * v, sum_xy, c_xy)
        sum_x2, c_x2 = gomath.kahan_inc(x * x, sum_x2, c_x2)
    sum_x, sum_y, sum_xy, sum_x2 = sum_x + c_x, sum_y + c_y, sum_xy + c_xy, sum_x2 + c_x2
    cov_xy = sum_xy - sum_x * sum_y / n
    var_x = sum_x2 - sum_x * sum_x / n
    slope = gomath.div(cov_xy, var_x)
    return slope, sum_y / n - slope * sum_x / n


def deriv(w: Window) -> float | None:
    if len(w.values) < 2:
        return None
    return linear_regression(w.times, w.values, w.times[0])[0]


def predict_linear(w: Window) -> float | None:
    if len(w.values) < 2:
        return None
    slope, intercept = linear_regression(w.times, w.values, w.ts)
    return slope * w.args[0] + intercept


def double_exponential_smoothing(w: Window) -> float | None:
    sf, tf = w.args
    if not 0 < sf < 1:
        raise PromQLError(f"invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:f}")
    if not 0 < tf < 1:
        raise PromQLError(f"invalid trend factor. Expected: 0 < tf < 1, got: {tf:f}")
    values = w.values
    if len(values) < 2:
        return None
    s0, s1, b = 0.0, values[0], values[1] - values[0]
    for i in range(1, len(values)):
        x = sf * values[i]
        if i > 1:  # the trend at i - 1 (at 0 it is the first difference)
            b = tf * (s1 - s0) + (1 - tf) * b
        s0, s1 = s1, x + (1 - sf) * (s1 + b)
    return s1


def avg_over_time(w: Window) -> float:
    mean = c = count = 0.0
    for v in w.values:
        count += 1
        if math.isinf(mean):
            if math.isinf(v) and (mean > 0) == (v > 0):
                continue
            if not math.isinf(v) and not math.isnan(v):
                continue
        mean, c = gomath.kahan_inc(v / count - mean / count, mean, c)
    return mean if math.isinf(mean) else mean + c


def sum_over_time(w: Window) -> float:
    total = c = 0.0
    for v in w.values:
        total, c = gomath.kahan_inc(v, total, c)
    return total if math.isinf(total) else total + c


def _variance(values: list[float]) -> float:
    count = mean = c_mean = aux = c_aux = 0.0
    for v in values:
        count += 1
        delta = v - (mean + c_mean)
        mean, c_mean = gomath.kahan_inc(delta / count, mean, c_mean)
        aux, c_aux = gomath.kahan_inc(delta * (v - (mean + c_mean)), aux, c_aux)
    return (aux + c_aux) / count


def max_over_time(w: Window) -> float:
    best = w.values[0]
    for v in w.values:
        if v > best or math.isnan(best):
            best = v
    return best


def min_over_time(w: Window) -> float:
    best = w.values[0]
    for v in w.values:
        if v < best or math.isnan(best):
            best = v
    return best


def quantile(q: float, values: list[float]) -> float:
    """The q-quantile of values, interpolating between the two nearest ranks (NaN sorts first)."""
    if not values or math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(values, key=lambda v: (not math.isnan(v), v if not math.isnan(v) else 0))
    rank = q * (len(ordered) - 1)
    lower = max(0, math.floor(rank))
    upper = min(len(ordered) - 1, lower + 1)
    weight = rank - math.floor(rank)
    return ordered[lower] * (1 - weight) + ordered[upper] * weight


def changes(w: Window) -> float:
    count, previous = 0, w.values[0]
    for current in w.values[1:]:
        if current != previous and not (math.isnan(current) and math.isnan(previous)):
            count += 1
        previous = current
    return float(count)


def resets(w: Window) -> float:
    count, previous = 0, w.values[0]
    for current in w.values[1:]:
        if current < previous:
            count += 1
        previous = current
    return float(count)


RANGE_FUNCTIONS = {
    "rate": lambda w: extrapolated_rate(w, True, True),
    "increase": lambda w: extrapolated_rate(w, True, False),
    "delta": lambda w: extrapolated_rate(w, False, False),
    "irate": lambda w: instant_value(w, True),
    "idelta": lambda w: instant_value(w, False),
    "deriv": deriv,
    "predict_linear": predict_linear,
    "holt_winters": double_exponential_smoothing,
    "double_exponential_smoothing": double_exponential_smoothing,
    "avg_over_time": avg_over_time,
    "sum_over_time": sum_over_time,
    "min_over_time": min_over_time,
    "max_over_time": max_over_time,
    "count_over_time": lambda w: float(len(w.values)),
    "last_over_time": lambda w: w.values[-1],
    "present_over_time": lambda w: 1.0,
    "absent_over_time": lambda w: 1.0,
    "quantile_over_time": lambda w: quantile(w.args[0], w.values),
    "stddev_over_time": lambda w: math.sqrt(_variance(w.values)),
    "stdvar_over_time": lambda w: _variance(w.values),
    "changes": changes,
    "resets": resets,
}


def range_call(ev: Evaluator, node: pp.Call, index: int) -> Vectors:
    """A function of a range vector: one value per series and step whose window holds samples."""
    name = node.func.name
    apply = RANGE_FUNCTIONS.get(name)
    if apply is None:
        raise PromQLError(f"function {name}() is not supported")
    scalars = [ev.scalar(arg) for i, arg in enumerate(node.args) if i != index]
    source, refs, span = ev.range_source(node.args[index])
    steps: list[list[Sample]] = [[] for _ in refs]
    seen_labels = set()
    covered = set()
    for series in source:
        labels = series.labels if name == "last_over_time" else without_name(series.labels)
        times, values = series.times, series.values
        lo = hi = 0
        produced = False
        for k, end in enumerate(refs):
            start = end - span
            while lo < len(times) and times[lo] < start:
                lo += 1
            hi = max(hi, lo)
            while hi < len(times) and times[hi] <= end:
                hi += 1
            if hi == lo:
                continue
            window = Window(times[lo:hi], values[lo:hi], start, end, span, ev.times[k], [s[k] for s in scalars])
            value = apply(window)
            if value is not None:
                steps[k].append((labels, value))
                covered.add(k)
                produced = True
        if produced:
            if labels in seen_labels:
                raise PromQLError(SAME_LABELSET)
            seen_labels.add(labels)
    if name == "absent_over_time":
        labels = absent_labels(node.args[index])
        return Vectors([[] if k in covered else [(labels, 1.0)] for k in range(len(refs))])
    return Vectors(steps)


def absent_labels(node) -> tuple:
    """The labels absent() gives: those its selector names with = exactly once (not __name__)."""
    node = unwrap(node)
    if isinstance(node, pp.MatrixSelector):
        node = node.vector_selector
    if not isinstance(node, pp.VectorSelector):
        return ()
    pairs: dict[str, str] = {}
    dropped = set()
    for m in node.matchers.matchers:
        if m.name == NAME:
            continue
        if m.op == pp.MatchOp.Equal and m.name not in pairs and m.name not in dropped:
            pairs[m.name] = m.value
        else:
            pairs.pop(m.name, None)
            dropped.add(m.name)
    return labels_of(pairs)


# --- instant-vector and scalar functions --------------------------------------------------------
SIMPLE = {
    "abs": abs,
    "ceil": gomath.go_ceil,
    "floor": gomath.go_floor,
    "exp": gomath.exp,
    "sqrt": gomath.sqrt,
    "ln": gomath.ln,
    "log2": gomath.log2,
    "log10": gomath.log10,
    "sin": gomath.sin,
    "cos": gomath.cos,
    "tan": gomath.tan,
    "asin": gomath.asin,
    "acos": gomath.acos,
    "atan": gomath.atan,
    "sinh": gomath.sinh,
    "cosh": gomath.cosh,
    "tanh": gomath.tanh,
    "asinh": gomath.asinh,
    "acosh": gomath.acosh,
    "atanh": gomath.atanh,
    "rad": lambda v: v * math.pi / 180,
    "deg": lambda v: v * 180 / math.pi,
    "sgn": gomath.sgn,
}


def _date(t: datetime, part: str) -> float:
    if part == "days_in_month":
        return float(calendar.monthrange(t.year, t.month)[1])
    if part == "day_of_week":
        return float((t.weekday() + 1) % 7)  # Go: Sunday is 0
    if part == "day_of_year":
        return float(t.timetuple().tm_yday)
    return float({"day_of_month": t.day, "hour": t.hour, "minute": t.minute, "month": t.month, "year": t.year}[part])


DATE_PARTS = ("days_in_month", "day_of_month", "day_of_week", "day_of_year", "hour", "minute", "month", "year")


def _at_second(seconds: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(seconds), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def date_function(ev: Evaluator, node: pp.Call) -> Vectors:
    part = node.func.name
    if not node.args:
        return Vectors([[((), _date(datetime.fromtimestamp(t // 1000, UTC), part))] for t in ev.times])
    steps = []
    for vector in ev.vectors(node.args[0]):
        out = []
        for labels, v in vector:
            moment = None if math.isnan(v) or math.isinf(v) else _at_second(v)
            out.append((without_name(labels), math.nan if moment is None else _date(moment, part)))
        steps.append(out)
    return Vectors(steps)


def _go_template(template: str, match: re.Match) -> str:
    """Expand $1, ${1}, $name, ${name} and $$ like Go's Regexp.Expand (an unknown group is empty)."""

    def group(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        key = m.group(1) or m.group(2)
        try:
            return match.group(int(key) if key.isdigit() else key) or ""
        except (IndexError, re.error):
            return ""

    return re.sub(r"\$\$|\$\{(\w+)\}|\$(\w+)", group, template)


def label_replace(ev: Evaluator, node: pp.Call) -> Vectors:
    dst, replacement, src, pattern = (string_arg(a) for a in node.args[1:5])
    try:
        regex = re.compile(pattern)
    except re.error:
        raise PromQLError(f"invalid regular expression in label_replace(): {pattern}") from None
    if not _LABEL_NAME.match(dst):
        raise PromQLError(f"invalid destination label name in label_replace(): {dst}")
    steps = []
    for vector in ev.vectors(node.args[0]):
        out = []
        for labels, v in vector:
            match = regex.fullmatch(label_value(labels, src))
            if match is not None:
                pairs = dict(labels)
                pairs[dst] = _go_template(replacement, match)
                labels = labels_of(pairs)
            out.append((labels, v))
        steps.append(check_unique(out))
    return Vectors(steps)


def label_join(ev: Evaluator, node: pp.Call) -> Vectors:
    dst, separator = string_arg(node.args[1]), string_arg(node.args[2])
    sources = [string_arg(a) for a in node.args[3:]]
    for name in [*sources, dst]:
        if not _LABEL_NAME.match(name):
            raise PromQLError(f"invalid label name in label_join(): {name}")
    steps = []
    for vector in ev.vectors(node.args[0]):
        out = []
        for labels, v in vector:
            pairs = dict(labels)
            pairs[dst] = separator.join(label_value(labels, s) for s in sources)
            out.append((labels_of(pairs), v))
        steps.append(check_unique(out))
    return Vectors(steps)


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """histogram_quantile over classic buckets: (upper bound, cumulative count) pairs."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    buckets = sorted(buckets, key=lambda b: b[0])
    if not math.isinf(buckets[-1][0]) or buckets[-1][0] < 0:
        return math.nan
    merged: list[list[float]] = []
    for bound, count in buckets:  # buckets with the same bound are added up
        if merged and merged[-1][0] == bound:
            merged[-1][1] += count
        else:
            merged.append([bound, count])
    for i in range(1, len(merged)):  # counts must not decrease (rate() of buckets can make them)
        merged[i][1] = max(merged[i][1], merged[i - 1][1])
    if len(merged) < 2:
        return math.nan
    observations = merged[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = next((i for i in range(len(merged) - 1) if merged[i][1] >= rank), len(merged) - 1)
    if b == len(merged) - 1:
        return merged[-2][0]
    if b == 0 and merged[0][0] <= 0:
        return merged[0][0]
    start, end, count = 0.0, merged[b][0], merged[b][1]
    if b > 0:
        start = merged[b - 1][0]
        count -= merged[b - 1][1]
        rank -= merged[b - 1][1]
    return start + (end - start) * (rank / count)


def _parse_bound(text: str) -> float | None:
    try:
        return float(text) if "_" not in text and text == text.strip() else None
    except ValueError:
        return None


def histogram_quantile(ev: Evaluator, node: pp.Call) -> Vectors:
    qs = ev.scalar(node.args[0])
    steps = []
    for q, vector in zip(qs, ev.vectors(node.args[1]), strict=True):
        groups: dict[tuple, tuple] = {}
        for labels, v in vector:
            bound = _parse_bound(label_value(labels, "le"))
            if bound is None:
                continue
            key = tuple(pair for pair in labels if pair[0] != "le")
            if key not in groups:
                groups[key] = (tuple(p for p in key if p[0] != NAME), [])
            groups[key][1].append((bound, v))
        steps.append([(labels, bucket_quantile(q, buckets)) for labels, buckets in groups.values()])
    return Vectors(steps)


def _per_sample(ev: Evaluator, node: pp.Call, apply) -> Vectors:
    """Apply ``apply(value, step)`` to every element, dropping the metric name."""
    steps = []
    for k, vector in enumerate(ev.vectors(node.args[0])):
        steps.append(check_unique([(without_name(labels), apply(v, k)) for labels, v in vector]))
    return Vectors(steps)


def _sorted(vector: list[Sample], descending: bool) -> list[Sample]:
    # NaN goes last either way
    numbers = [s for s in vector if not math.isnan(s[1])]
    nans = [s for s in vector if math.isnan(s[1])]
    return sorted(numbers, key=lambda s: s[1], reverse=descending) + nans


def instant_call(ev: Evaluator, node: pp.Call) -> Value:
    name = node.func.name
    args = node.args
    if name in SIMPLE:
        f = SIMPLE[name]
        return _per_sample(ev, node, lambda v, k: f(v))
    if name in DATE_PARTS:
        return date_function(ev, node)
    if name == "time":
        return Scalar([t / 1000 for t in ev.times])
    if name == "pi":
        return Scalar([math.pi] * len(ev.times))
    if name == "scalar":
        return Scalar([vector[0][1] if len(vector) == 1 else math.nan for vector in ev.vectors(args[0])])
    if name == "vector":
        return Vectors([[((), v)] for v in ev.scalar(args[0])])
    if name == "round":
        nearest = ev.scalar(args[1]) if len(args) > 1 else [1.0] * len(ev.times)
        return _per_sample(ev, node, lambda v, k: _round(v, nearest[k]))
    if name in ("clamp", "clamp_min", "clamp_max"):
        return _clamp(ev, node)
    if name in ("sort", "sort_desc"):
        return Vectors([_sorted(vector, name == "sort_desc") for vector in ev.vectors(args[0])])
    if name == "timestamp":
        return _per_sample(ev, node, lambda v, k: ev.times[k] / 1000)
    if name == "absent":
        labels = absent_labels(args[0])
        return Vectors([[] if vector else [(labels, 1.0)] for vector in ev.vectors(args[0])])
    if name == "label_replace":
        return label_replace(ev, node)
    if name == "label_join":
        return label_join(ev, node)
    if name == "histogram_quantile":
        return histogram_quantile(ev, node)
    if name in ("histogram_count", "histogram_sum", "histogram_fraction", "histogram_avg"):
        return Vectors([[] for _ in ev.times])  # native histograms only: none stored here
    raise PromQLError(f"function {name}() is not supported")


def _round(v: float, nearest: float) -> float:
    inverse = gomath.div(1.0, nearest)
    return gomath.div(gomath.go_floor(v * inverse + 0.5), inverse)


def _clamp(ev: Evaluator, node: pp.Call) -> Vectors:
    name, args = node.func.name, node.args
    low = ev.scalar(args[1]) if name in ("clamp", "clamp_min") else None
    high = ev.scalar(args[2] if name == "clamp" else args[1]) if name in ("clamp", "clamp_max") else None
    steps = []
    for k, vector in enumerate(ev.vectors(args[0])):
        lo = low[k] if low else -math.inf
        hi = high[k] if high else math.inf
        if name == "clamp" and hi < lo:
            steps.append([])
            continue
        steps.append(check_unique([(without_name(labels), _go_max(lo, _go_min(hi, v))) for labels, v in vector]))
    return Vectors(steps)


def _go_max(a: float, b: float) -> float:
    return math.nan if math.isnan(a) or math.isnan(b) else max(a, b)


def _go_min(a: float, b: float) -> float:
    return math.nan if math.isnan(a) or math.isnan(b) else min(a, b)


def call(ev: Evaluator, node: pp.Call) -> Value:
    if node.func.name == "timestamp" and isinstance(unwrap(node.args[0]), pp.VectorSelector):
        # the time of the sample itself, not of the step
        selected = ev.vector_selector(unwrap(node.args[0]), stamps=True)
        return Vectors([[(without_name(labels), v) for labels, v in step] for step in selected.steps])
    for index, arg in enumerate(node.args):
        if value_type(arg) == "matrix":
            return range_call(ev, node, index)
    return instant_call(ev, node)
