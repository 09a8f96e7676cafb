"""Incident analysis benchmark: how long the evidence pack and the rule-based analysis take.

Runs on a throwaway test database (config.settings_test, DATA_DIR=.data/test): a
fleet of servers with a series each per metric, samples every 10 s for two
hours, error log lines and events; then builds the evidence pack of a 30-minute
window fleet-wide and for one server, a few times each, and prints the median
time, the pack's approximate tokens, and the rule-based analysis' time.

    .venv/bin/python bench/analysis_evidence.py --servers 50 --series 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")

import django  # noqa: E402

django.setup()

from django.test.utils import setup_databases, teardown_databases  # noqa: E402

METRICS = ("cpu", "memory", "disk", "net", "latency")


def populate(servers: int, series: int, hours: int, step: int) -> int:
    from monitoring import storage
    from monitoring.records import Batch, EventRecord, LogRecord
    from servers.models import Server

    now = datetime.now(UTC)
    points = hours * 3600 // step
    written = 0
    for s in range(servers):
        server = Server.objects.create(hostname=f"bench-{s:03d}")
        batch = Batch()
        for k in range(series):
            metric = METRICS[k % len(METRICS)]
            for i in range(points):
                ts = now - timedelta(seconds=(points - i) * step)
                value = 20 + (i % 7) + (60 if s == 0 and k == 0 and i > points - 180 else 0)
                batch.add_sample(server.id, metric, f"value_{k}", {"n": str(k)}, ts, value)
        for i in range(400):
            message = f"upstream timeout after {1000 + i} ms calling svc-{i % 9}"
            batch.logs.append(LogRecord(now - timedelta(seconds=i * 4), server.id, f"svc-{s % 7}", "ERROR", message))
        for i in range(20):
            batch.events.append(
                EventRecord(
                    now - timedelta(seconds=i * 60),
                    server.id,
                    "api_module",
                    "api_response",
                    {"response_time": 6000 + i},
                    status="WARNING",
                    severity=0.7,
                    reasons=["response_time exceeds 5000"],
                )
            )
        batch.seen[str(server.id)] = now
        written += storage.write(batch).samples
    return written


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=50)
    parser.add_argument("--series", type=int, default=20)
    parser.add_argument("--hours", type=int, default=2)
    parser.add_argument("--step", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    old = setup_databases(verbosity=0, interactive=False)
    try:
        from alerts.analysis import evidence, fallback
        from servers.models import Server

        started = time.perf_counter()
        samples = populate(args.servers, args.series, args.hours, args.step)
        print(
            f"stored {samples:,} samples, {args.servers * 400:,} log lines, {args.servers * 20:,} events "
            f"in {time.perf_counter() - started:.1f}s"
        )
        now = datetime.now(UTC)
        fleet = evidence.Window.lookback(30, end=now)
        one = evidence.Window.lookback(30, end=now, server_ids=[str(Server.objects.get(hostname="bench-000").id)])
        for name, window in (("fleet-wide", fleet), ("one server", one)):
            ms, pack = timed(lambda w=window: evidence.build(w), args.repeat)
            fb_ms, result = timed(lambda p=pack: fallback.analyse(p), args.repeat)
            print(
                f"{name:>10}: evidence pack {ms:7.1f} ms (median of {args.repeat}), "
                f"~{pack['approx_tokens']} tokens, {len(pack['series'])} series, "
                f"omitted {pack.get('omitted', {})}; rule-based analysis {fb_ms:.2f} ms -> {result.severity}"
            )
    finally:
        teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    main()
