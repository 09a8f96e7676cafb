"""The data and the queries the console's PromQL is compared on against a real Prometheus.

``series_data`` builds an hour of remote_write data (counters with a reset,
gauges, a classic histogram, a jittered and a gappy series on three hosts),
sent in time order to both. ``queries`` crosses selectors, functions, ranges,
aggregations, operators, offsets, @ and subqueries: every query is asked as
two instant queries and one range query. ``agree`` compares two answers of
Prometheus' HTTP API the way the compliance suites do: same result type, same
label sets, same timestamps, values equal to a relative 1e-6 (NaN equals NaN).
"""

from __future__ import annotations

import math
import random

from ingest.proto.remote_pb2 import WriteRequest

HOSTS = ("web-01", "web-02", "db-01")
SCRAPE_MS = 15_000
BUCKETS = ("0.05", "0.1", "0.25", "0.5", "1", "+Inf")

COUNTERS = (
    "demo_http_requests_total",
    'demo_http_requests_total{method="GET"}',
    'demo_http_requests_total{code=~"5.."}',
    'demo_http_requests_total{code!="200",method!~"P.*"}',
)
GAUGES = (
    "demo_cpu_temperature_celsius",
    'demo_cpu_temperature_celsius{sensor="a"}',
    "demo_jitter_gauge",
    "demo_gappy_gauge",
    '{__name__=~"demo_memory_free_bytes|demo_up"}',
)
RANGES = ("1m", "5m", "10m")
COUNTER_FUNCTIONS = ("rate", "irate", "increase", "resets")
GAUGE_FUNCTIONS = (
    "delta",
    "idelta",
    "deriv",
    "changes",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "sum_over_time",
    "count_over_time",
    "last_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "present_over_time",
)
AGGREGATIONS = ("sum", "avg", "min", "max", "count", "group", "stddev", "stdvar")
MATH = ("abs", "ceil", "floor", "round", "sqrt", "ln", "log2", "log10", "sgn", "deg", "rad")


def _series(write: WriteRequest, labels: dict, samples: list[tuple[int, float]]) -> None:
    if not samples:
        return
    ts = write.timeseries.add()
    for name in sorted(labels):
        ts.labels.add(name=name, value=labels[name])
    for ms, value in samples:
        ts.samples.add(value=value, timestamp=ms)


def _base(host: str) -> dict:
    return {"host": host, "instance": f"{host}:9100", "job": "demo"}


def series_data(start_ms: int, end_ms: int) -> list[tuple[dict, list[tuple[int, float]]]]:
    """Every series with its samples between start_ms and end_ms (deterministic)."""
    rng = random.Random(18)
    ticks = list(range(start_ms, end_ms + 1, SCRAPE_MS))
    data = []
    for h, host in enumerate(HOSTS):
        for method in ("GET", "POST"):
            for code in ("200", "500"):
                total, samples = 0.0, []
                reset_at = len(ticks) // 2 if (host, method, code) == ("web-02", "GET", "200") else -1
                for i, ms in enumerate(ticks):
                    total = 0.0 if i == reset_at else total + rng.randint(0, 20 if code == "200" else 3)
                    samples.append((ms, total))
                labels = {**_base(host), "__name__": "demo_http_requests_total", "method": method, "code": code}
                data.append((labels, samples))
        for sensor in ("a", "b"):
            value, samples = 40.0 + 5 * h, []
            for ms in ticks:
                value = round(value + rng.uniform(-1.5, 1.5), 2)
                samples.append((ms, value))
            data.append(({**_base(host), "__name__": "demo_cpu_temperature_celsius", "sensor": sensor}, samples))
        data.append(
            (
                {**_base(host), "__name__": "demo_memory_free_bytes"},
                [(ms, float(2**30 + rng.randint(-(2**20), 2**20))) for ms in ticks],
            )
        )
        data.append(({**_base(host), "__name__": "demo_up"}, [(ms, 0.0 if host == "db-01" else 1.0) for ms in ticks]))
        jittered = [
            (ms + rng.randint(-40, 40), round(rng.uniform(0, 100), 2)) for ms in range(start_ms, end_ms, 10_000)
        ]
        data.append(({**_base(host), "__name__": "demo_jitter_gauge"}, jittered))
        gappy = [(ms, float(i % 7)) for i, ms in enumerate(ticks) if i < len(ticks) // 3 or i > 2 * len(ticks) // 3]
        data.append(({**_base(host), "__name__": "demo_gappy_gauge"}, gappy))
        data += _histogram(rng, host, ticks)
    return data


def _histogram(rng: random.Random, host: str, ticks: list[int]) -> list:
    counts = [0.0] * len(BUCKETS)
    total = 0.0
    series = {le: [] for le in BUCKETS}
    sums, count_samples = [], []
    for ms in ticks:
        for _ in range(rng.randint(0, 30)):
            observed = rng.expovariate(4)
            total += observed
            for i, le in enumerate(BUCKETS):
                if observed <= float(le):
                    counts[i] += 1
        for i, le in enumerate(BUCKETS):
            series[le].append((ms, counts[i]))
        sums.append((ms, round(total, 6)))
        count_samples.append((ms, counts[-1]))
    name = "demo_request_duration_seconds"
    data = [({**_base(host), "__name__": f"{name}_bucket", "le": le}, samples) for le, samples in series.items()]
    data.append(({**_base(host), "__name__": f"{name}_sum"}, sums))
    data.append(({**_base(host), "__name__": f"{name}_count"}, count_samples))
    return data


def write_requests(data, start_ms: int, end_ms: int, chunk_ms: int = 300_000) -> list[WriteRequest]:
    """The data as WriteRequests of consecutive time slices: Prometheus' head takes samples in time order."""
    requests = []
    for low in range(start_ms - 1000, end_ms + 1000, chunk_ms):
        write = WriteRequest()
        for labels, samples in data:
            _series(write, labels, [(ms, v) for ms, v in samples if low <= ms < low + chunk_ms])
        if write.timeseries:
            requests.append(write)
    return requests


def queries(at_ms: int) -> list[str]:
    """Hundreds of queries: functions x selectors x ranges, aggregations, operators, modifiers."""
    at = at_ms / 1000
    found = list(COUNTERS + GAUGES)
    found += [f"{f}({s}[{r}])" for f in COUNTER_FUNCTIONS for s in COUNTERS[:3] for r in RANGES]
    found += [f"{f}({s}[{r}])" for f in GAUGE_FUNCTIONS for s in GAUGES[:4] for r in RANGES[1:]]
    gauge, counter = GAUGES[0], COUNTERS[0]
    rate = f"rate({counter}[5m])"
    for op in AGGREGATIONS:
        found += [f"{op}({gauge})", f"{op} by (host) ({rate})", f"{op} without (sensor) ({gauge})"]
    found += [
        f"topk(2, {gauge})",
        f"bottomk(3, {rate})",
        f"topk by (host) (1, {gauge})",
        f"quantile(0.9, {gauge})",
        f"quantile by (host) (0.25, {rate})",
        f'count_values("value", round({GAUGES[3]}))',
        f'count_values by (host) ("v", {GAUGES[4]})',
        f"sum by (host, method) ({rate})",
        f"avg without (instance, job) ({gauge})",
        f"max by () ({gauge})",
    ]
    found += [f"{f}({gauge})" for f in MATH]
    found += [
        f"round({gauge}, 0.5)",
        f"exp({gauge} / 20)",
        f"sin({gauge}) + cos({gauge})",
        f"tan({gauge}) * atan({gauge})",
        f"asin({gauge} / 100) - acos({gauge} / 100)",
        f"sinh({gauge} / 50) / cosh({gauge} / 50)",
        f"tanh({gauge} / 50) + asinh({gauge}) + acosh({gauge}) + atanh({gauge} / 100)",
        f"clamp({gauge}, 40, 45)",
        f"clamp_min({gauge}, 45)",
        f"clamp_max({gauge}, 45)",
        "pi()",
        "time()",
        "vector(1)",
        "scalar(sum(demo_up))",
        f"timestamp({GAUGES[2]})",
        f"timestamp(sum({gauge}))",
        f"sort({gauge})",
        f"sort_desc({rate})",
        "hour()",
        "minute()",
        "day_of_week()",
        "day_of_month()",
        "day_of_year()",
        "days_in_month()",
        "month()",
        "year()",
        f"hour(timestamp({gauge}))",
        f'label_replace({gauge}, "short", "$1", "instance", "(.*):.*")',
        f'label_replace({gauge}, "host", "x-$1", "sensor", "(a)")',
        f'label_join({gauge}, "both", "/", "host", "sensor")',
        f"quantile_over_time(0.9, {gauge}[5m])",
        f"predict_linear({gauge}[10m], 600)",
        f"holt_winters({gauge}[10m], 0.5, 0.5)",
        f"absent_over_time({GAUGES[3]}[1m])",
        "absent_over_time(nonexistent[5m])",
        'absent(nonexistent{job="demo",host=~"x.*"})',
        f"absent({gauge})",
        "absent(demo_gappy_gauge)",
    ]
    found += [
        f"{rate} * 60",
        f"{gauge} > 45",
        f"{gauge} > bool 45",
        f"45 < {gauge}",
        f"45 >= bool {gauge}",
        f"{gauge} == {gauge}",
        f"{gauge} != bool {gauge}",
        f"{gauge} + {gauge}",
        f"{gauge} % 7",
        f"{gauge} ^ 2",
        f"2 ^ ({gauge} / 10)",
        f"-{gauge}",
        f"{gauge} atan2 {gauge}",
        "1 + 2 * 3",
        "2 ^ 3 ^ 2",
        "10 % 3 - -1",
        "1 > bool 2",
        f'{gauge}{{sensor="a"}} - ignoring(sensor) {gauge}{{sensor="b"}}',
        f"{gauge} - on(host, instance, job) group_left demo_up",
        f"demo_up + on(host) group_right {gauge}",
        f"{counter} / ignoring(code) group_left sum without (code) ({counter})",
        f"sum by (host, method) ({rate}) / ignoring(method) group_left sum by (host) ({rate})",
        f"{gauge} * on(host) group_left(job) demo_up",
        f'{gauge} and {gauge}{{sensor="a"}}',
        f"{gauge} and on(host) demo_up == 1",
        f"{gauge} or demo_memory_free_bytes",
        f'{gauge} unless {gauge}{{sensor="a"}}',
        f"{gauge} unless on(host) demo_up == 0",
        f"demo_gappy_gauge or {gauge}",
        f"{gauge} + demo_up",
        f"{gauge} / 0",
        f"-{gauge} % 0",
        f"ln(-{gauge})",
    ]
    found += [
        f"{gauge} offset 5m",
        f"{gauge} offset -2m",
        f"rate({counter}[5m] offset 10m)",
        f"{gauge} @ {at - 600}",
        f"sum({gauge} @ {at - 900})",
        f"rate({counter}[5m] @ {at - 300})",
        f"{gauge} @ end()",
        f"{gauge} @ start()",
        f"{gauge} @ {at - 600} offset 1m",
        f"max_over_time(rate({counter}[1m])[10m:1m])",
        f"avg_over_time({gauge}[10m:30s])",
        f"rate({counter}[5m:])",
        f"min_over_time(sum by (host) ({gauge})[15m:2m] offset 3m)",
        f"max_over_time({gauge}[5m:1m] @ {at - 1200})",
        f"deriv({gauge}[10m:])",
        "sum_over_time(demo_gappy_gauge[20m:1m])",
        f"count_over_time(({gauge} > 45)[10m:1m])",
        "histogram_quantile(0.9, rate(demo_request_duration_seconds_bucket[5m]))",
        "histogram_quantile(0.5, sum by (le) (rate(demo_request_duration_seconds_bucket[5m])))",
        "histogram_quantile(0.99, sum by (le, host) (rate(demo_request_duration_seconds_bucket[10m])))",
        "histogram_quantile(0.9, demo_request_duration_seconds_bucket)",
        "histogram_quantile(1.5, demo_request_duration_seconds_bucket)",
        "rate(demo_request_duration_seconds_sum[5m]) / rate(demo_request_duration_seconds_count[5m])",
    ]
    return found


def _normal(data: dict) -> tuple[str, list]:
    kind, result = data["resultType"], data["result"]
    if kind in ("scalar", "string"):
        return kind, [((), [tuple(result)])]
    if kind == "vector":
        return kind, sorted((tuple(sorted(r["metric"].items())), [tuple(r["value"])]) for r in result)
    return kind, sorted((tuple(sorted(r["metric"].items())), [tuple(p) for p in r["values"]]) for r in result)


def _same_value(a: str, b: str) -> bool:
    if a == b:
        return True
    x, y = float(a), float(b)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if math.isinf(x) or math.isinf(y):
        return x == y
    return abs(x - y) <= 1e-6 * max(abs(x), abs(y)) + 1e-9


def agree(expected: dict, got: dict) -> str | None:
    """None when two API answers agree, else what differs."""
    if expected["status"] != got["status"]:
        return f"status {expected['status']} ({expected.get('error')}) vs {got['status']} ({got.get('error')})"
    if expected["status"] == "error":
        same = expected["errorType"] == got["errorType"]
        return None if same else f"error {expected['errorType']} vs {got['errorType']}"
    (kind_a, series_a), (kind_b, series_b) = _normal(expected["data"]), _normal(got["data"])
    if kind_a != kind_b:
        return f"result type {kind_a} vs {kind_b}"
    if [s[0] for s in series_a] != [s[0] for s in series_b]:
        return f"series {[dict(s[0]) for s in series_a][:4]} vs {[dict(s[0]) for s in series_b][:4]}"
    for (labels, points_a), (_, points_b) in zip(series_a, series_b, strict=True):
        if [p[0] for p in points_a] != [p[0] for p in points_b]:
            return f"timestamps of {dict(labels)}: {points_a[:3]}... vs {points_b[:3]}..."
        for (t, a), (_, b) in zip(points_a, points_b, strict=True):
            if not _same_value(a, b):
                return f"value of {dict(labels)} at {t}: {a} vs {b}"
    return None
