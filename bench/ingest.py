"""Ingest benchmark: POST /api/v1/ingest with 1,000-sample bodies, against raw COPY.

Drives a running console (``make run``) with seed 001 bulk bodies over several
keep-alive connections for a bounded time; prints samples/s and p50/p99
request latency. In the same run it COPYs the same rows (binary, 1,000 rows a
transaction, as the console does) straight into the samples table and prints
the ratio.

    .venv/bin/python bench/ingest.py --url http://127.0.0.1:8000 --token mca_...
    .venv/bin/python bench/ingest.py --start            # starts daphne on a free port itself
    .venv/bin/python bench/ingest.py --start --workers 2  # two daphne processes, connections spread

URL and token may also come from BENCH_URL and BENCH_TOKEN. The database the
raw COPY goes to is the console's (DATABASE_URL, or the embedded one of
DATA_DIR, as ``make run`` uses). Rows written stay; retention drops them.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import UTC, datetime, timedelta

import orjson
from harness import ROOT, bench_env, cpu_seconds, issue_token, start_consoles

sys.path.insert(0, str(ROOT))
HOSTNAME = "bench-ingest"


def body_template(batch: int, names: int) -> bytes:
    """A seed 001 body of ``batch`` metrics over ``names`` x labels series, timestamp left as __TS__."""
    metrics = []
    for i in range(batch):
        metrics.append(
            {
                "metric_type": "bench",
                "metric_name": f"metric_{i % names}",
                "value": (i * 7.31) % 100,
                "labels": {"core": str(i // names), "host": HOSTNAME},
                "timestamp": "__TS__",
            }
        )
    return orjson.dumps({"metrics": metrics})


class Driver:
    def __init__(self, urls: list[str], tokens: list[str], template: bytes, duration: float, connections: int):
        self.urls = urls
        self.tokens = tokens
        self.template = template
        self.duration = duration
        self.connections = connections
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.samples = 0
        self._lock = threading.Lock()
        self._counter = 0
        self._start = datetime.now(UTC) - timedelta(minutes=50)

    def _next_body(self) -> bytes:
        with self._lock:
            self._counter += 1
            n = self._counter
        # a distinct timestamp per request: no body is a retry of another
        ts = (self._start + timedelta(milliseconds=n)).isoformat().replace("+00:00", "Z")
        return self.template.replace(b"__TS__", ts.encode())

    def _worker(self, index: int, deadline: float) -> None:
        url = urllib.parse.urlsplit(self.urls[index % len(self.urls)])
        conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=30)
        token = self.tokens[index % len(self.tokens)]
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        latencies = []
        samples = 0
        while time.monotonic() < deadline:
            body = self._next_body()
            started = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/ingest", body=body, headers=headers)
                response = conn.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self._error(type(exc).__name__)
                conn.close()
                conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=30)
                continue
            elapsed = time.perf_counter() - started
            if response.status != 202:
                self._error(f"{response.status} {answer[:120]!r}")
                continue
            latencies.append(elapsed)
            samples += orjson.loads(answer)["samples"]
        conn.close()
        with self._lock:
            self.latencies.extend(latencies)
            self.samples += samples

    def _error(self, what: str) -> None:
        with self._lock:
            self.errors[what] = self.errors.get(what, 0) + 1

    def run(self) -> float:
        deadline = time.monotonic() + self.duration
        threads = [threading.Thread(target=self._worker, args=(i, deadline)) for i in range(self.connections)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started


def raw_copy_rate(template: bytes, seconds: float) -> tuple[float, float]:
    """Rows/s of binary COPY of the same rows into the samples table: (1,000 a transaction, 10,000 a transaction)."""
    import django

    os.environ.update(bench_env())
    django.setup()
    import psycopg
    from django.conf import settings

    from monitoring import partitions
    from monitoring.pgcopy import SAMPLES, pg_microseconds
    from monitoring.records import labels_key

    metrics = orjson.loads(template)["metrics"]
    with psycopg.connect(settings.DATABASE_URL) as conn:
        ids = {
            (name, labels): sid
            for sid, name, labels in conn.execute(
                "SELECT s.id, s.name, s.labels::text FROM monitoring_series s JOIN servers_server v "
                "ON v.id = s.server_id WHERE v.hostname = %s AND s.metric_type = 'bench'",
                [f"{HOSTNAME}-0"],
            )
        }
        ids = {(name, labels_key(orjson.loads(labels))): sid for (name, labels), sid in ids.items()}
        keyed = [(ids[(m["metric_name"], labels_key(m["labels"]))], m["value"]) for m in metrics]
        base = datetime.now(UTC) - timedelta(minutes=55)
        with conn.cursor() as cur:
            partitions.ensure(cur, "monitoring_sample", {partitions.day_of(base), partitions.day_of(datetime.now(UTC))})
        conn.commit()
        sids, values = [sid for sid, _ in keyed], [value for _, value in keyed]
        rates = []
        for per_transaction in (1000, 10_000):
            rows_done = 0
            n = 0
            deadline = time.monotonic() + seconds
            started = time.perf_counter()
            while time.monotonic() < deadline:
                rows: list[bytes] = []
                for _ in range(per_transaction // len(keyed)):  # the console's encoder, a scrape at a time
                    n += 1
                    ts = pg_microseconds(base + timedelta(milliseconds=n))
                    rows += SAMPLES.rows(sids, [ts] * len(sids), values)
                with conn.cursor() as cur:
                    SAMPLES.write(cur, rows)
                conn.commit()
                rows_done += per_transaction
            rates.append(rows_done / (time.perf_counter() - started))
    return rates[0], rates[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("BENCH_URL", "http://127.0.0.1:8000"))
    parser.add_argument(
        "--token",
        default=os.environ.get("BENCH_TOKEN", ""),
        help="one agent token for every connection; if empty, one agent (server bench-ingest-N) per connection",
    )
    parser.add_argument("--start", action="store_true", help="start daphne on a free port instead of using --url")
    parser.add_argument("--workers", type=int, default=1, help="daphne processes to start with --start")
    parser.add_argument("--duration", type=float, default=20, help="seconds of HTTP load")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000, help="samples per request")
    parser.add_argument("--names", type=int, default=100, help="metric names (series = batch, names x label sets)")
    parser.add_argument("--copy-seconds", type=float, default=5, help="seconds of raw COPY per measurement")
    args = parser.parse_args()

    procs: list[subprocess.Popen] = []
    urls = [args.url]
    if args.start:
        urls, procs = start_consoles(args.workers, bench_env(AGENT_RATE_LIMIT_PER_MINUTE="0"))
    try:
        tokens = (
            [args.token]
            if args.token
            else [issue_token(f"{HOSTNAME}-{i}", "--name", "bench") for i in range(args.connections)]
        )
        template = body_template(args.batch, args.names)
        print(
            f"console {', '.join(urls)}: {args.connections} connections, {len(tokens)} agent(s), "
            f"{args.batch} samples a request, {len(template) / 1024:.0f} KiB bodies, {args.duration:.0f} s"
        )
        Driver(urls, tokens, template, 3, len(tokens)).run()  # warm up: series created, caches filled
        cpu_before = cpu_seconds(procs)
        client_before = sum(os.times()[:2])
        driver = Driver(urls, tokens, template, args.duration, args.connections)
        elapsed = driver.run()
        cpu_used = cpu_seconds(procs) - cpu_before
        client_used = sum(os.times()[:2]) - client_before
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)
    if not driver.latencies:
        raise SystemExit(f"no request succeeded: {driver.errors}")
    lat = sorted(driver.latencies)
    rate = driver.samples / elapsed
    p50 = statistics.median(lat) * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    print(f"HTTP ingest: {rate:,.0f} samples/s, {len(lat)} requests, p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    if procs:
        print(f"console CPU: {cpu_used / len(lat) * 1000:.1f} ms per request ({cpu_used / elapsed:.2f} cores busy)")
    print(
        f"this client's CPU: {client_used / len(lat) * 1000:.1f} ms per request ({client_used / elapsed:.2f} cores busy)"
    )
    if driver.errors:
        print(f"errors: {driver.errors}")
    copy_1k, copy_10k = raw_copy_rate(template, args.copy_seconds)
    print(f"raw binary COPY: {copy_1k:,.0f} rows/s (1,000 rows a transaction), {copy_10k:,.0f} rows/s (10,000)")
    print(
        f"ratio HTTP / raw COPY: {rate / copy_1k:.2f} (vs 1,000-row COPY), {rate / copy_10k:.2f} (vs 10,000-row COPY)"
    )
    print(f"target: ratio >= 0.50 and p99 < 100 ms -> {'met' if rate / copy_10k >= 0.5 and p99 < 100 else 'not met'}")


if __name__ == "__main__":
    main()
