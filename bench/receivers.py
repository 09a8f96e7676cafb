"""Receivers benchmark: Prometheus remote_write bodies of 500 series x 1 sample, as Prometheus sends them.

Drives a running console (``make run``) over several keep-alive connections with
snappy-compressed protobuf WriteRequests (labels sorted, ``__name__``,
``instance``, ``job`` and one more label, a distinct timestamp per request, the
series spread over a few instances like a Prometheus scraping a small fleet).
The bodies are built before the clock starts, so the figure is the console's.
Prints samples/s and p50/p99 request latency; the target is >= 50,000 samples/s.

    .venv/bin/python bench/receivers.py --url http://127.0.0.1:8000 --token mcf_...
    .venv/bin/python bench/receivers.py --start     # starts daphne on a free port itself
    .venv/bin/python bench/receivers.py --start --live off   # ... with RECEIVER_LIVE=false

URL and token may also come from BENCH_URL and BENCH_TOKEN (a fleet token: the
instances are registered as servers on first sight). Without a token, one is
issued with ``manage.py issue_token --fleet``. Samples written stay; retention
drops them. The receivers' rate limit (RECEIVER_RATE_LIMIT_PER_MINUTE) applies:
raise it for long runs against a console you did not start with --start.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import threading
import time
import urllib.parse

from harness import ROOT, bench_env, cpu_seconds, issue_token, start_consoles  # noqa: E402

sys.path.insert(0, str(ROOT))

import cramjam  # noqa: E402

from ingest.proto.remote_pb2 import WriteRequest  # noqa: E402
from ingest.proto.types_pb2 import Label  # noqa: E402

NAMES = [
    "node_cpu_seconds_total",
    "node_memory_MemAvailable_bytes",
    "node_network_receive_bytes_total",
    "node_filesystem_avail_bytes",
    "node_disk_io_time_seconds_total",
]


def series_labels(series: int, instances: int) -> list[list[Label]]:
    """Label sets like node_exporter's, sorted by name as Prometheus sends them."""
    sets = []
    for i in range(series):
        labels = {
            "__name__": NAMES[i % len(NAMES)],
            "instance": f"bench-node-{i % instances:02d}:9100",
            "job": "node",
            "device": f"dev{i // (len(NAMES) * instances)}",
        }
        sets.append([Label(name=k, value=labels[k]) for k in sorted(labels)])
    return sets


def bodies(count: int, series: int, instances: int) -> list[bytes]:
    """``count`` snappy WriteRequests, each with its own timestamp (no body is a retry of another)."""
    labels = series_labels(series, instances)
    start_ms = int(time.time() * 1000) - count
    out = []
    for n in range(count):
        write = WriteRequest()
        for i, label_set in enumerate(labels):
            ts = write.timeseries.add()
            ts.labels.extend(label_set)
            ts.samples.add(value=(n * 7.31 + i) % 1000, timestamp=start_ms + n)
        out.append(bytes(cramjam.snappy.compress_raw(write.SerializeToString())))
    return out


class Driver:
    def __init__(self, url: str, token: str, payloads: list[bytes], connections: int):
        self.url = urllib.parse.urlsplit(url)
        self.token = token
        self.payloads = payloads
        self.connections = connections
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self._next = 0
        self._lock = threading.Lock()

    def _take(self) -> bytes | None:
        with self._lock:
            if self._next >= len(self.payloads):
                return None
            self._next += 1
            return self.payloads[self._next - 1]

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.url.hostname, self.url.port or 80, timeout=30)

    def _worker(self) -> None:
        conn = self._connect()
        headers = {
            "Content-Type": "application/x-protobuf",
            "Content-Encoding": "snappy",
            "X-Prometheus-Remote-Write-Version": "0.1.0",
            "User-Agent": "bench/receivers",
            "Authorization": f"Bearer {self.token}",
        }
        latencies = []
        while (body := self._take()) is not None:
            started = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/prom/write", body=body, headers=headers)
                response = conn.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self._error(type(exc).__name__)
                conn.close()
                conn = self._connect()
                continue
            if response.status != 204:
                self._error(f"{response.status} {answer[:120]!r}")
                continue
            latencies.append(time.perf_counter() - started)
        conn.close()
        with self._lock:
            self.latencies.extend(latencies)

    def _error(self, what: str) -> None:
        with self._lock:
            self.errors[what] = self.errors.get(what, 0) + 1

    def run(self) -> float:
        threads = [threading.Thread(target=self._worker) for _ in range(self.connections)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("BENCH_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--token", default=os.environ.get("BENCH_TOKEN", ""), help="a fleet token")
    parser.add_argument("--start", action="store_true", help="start daphne on a free port instead of using --url")
    parser.add_argument("--requests", type=int, default=1500, help="remote_write requests to send")
    parser.add_argument("--series", type=int, default=500, help="series (of one sample) a request")
    parser.add_argument("--instances", type=int, default=10, help="instances (servers) the series spread over")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument(
        "--live", choices=["on", "off"], default="on", help="with --start: RECEIVER_LIVE (publish to live views)"
    )
    args = parser.parse_args()

    proc = None
    url = args.url
    if args.start:
        env = bench_env(RECEIVER_RATE_LIMIT_PER_MINUTE="0")
        env["RECEIVER_LIVE"] = "true" if args.live == "on" else "false"  # --live decides, whatever the shell says
        urls, procs = start_consoles(1, env)
        url, proc = urls[0], procs[0]
    try:
        token = args.token or issue_token("--fleet")
        print(f"building {args.requests} bodies of {args.series} series x 1 sample ...", flush=True)
        payloads = bodies(args.requests + 50, args.series, args.instances)
        warm, payloads = payloads[:50], payloads[50:]
        print(
            f"console {url}: {args.connections} connections, {args.series} series a request over "
            f"{args.instances} instances, {statistics.mean(map(len, payloads)) / 1024:.1f} KiB snappy bodies"
            + (f", live publishing {args.live}" if args.start else "")
        )
        Driver(url, token, warm, args.connections).run()  # servers registered, series created, caches warm
        cpu_before = cpu_seconds([proc] if proc else [])
        driver = Driver(url, token, payloads, args.connections)
        elapsed = driver.run()
        cpu_used = cpu_seconds([proc] if proc else []) - cpu_before
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
    if not driver.latencies:
        raise SystemExit(f"no request succeeded: {driver.errors}")
    lat = sorted(driver.latencies)
    rate = len(lat) * args.series / elapsed
    p50 = statistics.median(lat) * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    print(
        f"remote_write: {rate:,.0f} samples/s ({len(lat)} requests in {elapsed:.1f} s), "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    )
    if proc is not None:
        print(f"console CPU: {cpu_used / len(lat) * 1000:.2f} ms per request ({cpu_used / elapsed:.2f} cores busy)")
    if driver.errors:
        print(f"errors: {driver.errors}")
    print(f"target >= 50,000 samples/s -> {'met' if rate >= 50_000 else 'not met'}")


if __name__ == "__main__":
    main()
