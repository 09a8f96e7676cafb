"""Process-table cardinality: an hour of seed 002 tables with churning pids, then the host's series count.

Posts ``--minutes`` (default 60) of process tables, one every ``--interval``
seconds (default 10, the bundled agent's), each of ``--processes`` rows
(default 60): long-running services whose worker pids come and go, plus
short-lived commands (a new pid every time, some with names of their own), as a
busy host's table looks. Timestamps cover the last hour, so the run takes
seconds, not an hour. Then it prints the distinct pids and names posted and the
series the console keeps for the host: bounded by PROCESS_SERIES_TOP_N names
(3 series each: cpu_percent, memory_mb, instances), not by the pids.

    .venv/bin/python bench/ingest_processes.py --start       # starts daphne on a free port itself
    .venv/bin/python bench/ingest_processes.py --url http://127.0.0.1:8000 --token mca_...

URL and token may also come from BENCH_URL and BENCH_TOKEN (an agent token for
the host given with --host). Without a token one is issued with
``manage.py issue_token HOST``. The series count is read from the database the
console uses (DATABASE_URL, or the embedded one under DATA_DIR).
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import sys
import time
import urllib.parse

import orjson
from harness import ROOT, bench_env, issue_token, start_consoles

sys.path.insert(0, str(ROOT))

SERVICES = ["nginx", "postgres", "python3", "node", "java", "redis-server", "dockerd", "containerd", "sshd", "systemd"]
WORKERS = {"nginx": 4, "postgres": 8, "python3": 6, "node": 3, "java": 2}
COMMANDS = ["sh", "bash", "curl", "grep", "find", "gzip", "tar", "rsync", "awk", "sed", "cron", "logrotate"]


class Host:
    """A process table that changes like a real one: workers restart, commands come and go."""

    def __init__(self, size: int, seed: int = 16):
        self.random = random.Random(seed)
        self.size = size
        self.next_pid = 1000
        self.rows: list[dict] = []
        for name in SERVICES:
            for _ in range(WORKERS.get(name, 1)):
                self.rows.append(self._spawn(name))
        self.pids_seen = {row["pid"] for row in self.rows}
        self.names_seen = {row["name"] for row in self.rows}

    def _spawn(self, name: str) -> dict:
        self.next_pid += self.random.randint(1, 40)
        return {"pid": self.next_pid, "name": name, "cpu_percent": 0.0, "memory_mb": 0.0}

    def tick(self) -> list[dict]:
        """The next table: a tenth of the workers restart, the commands are all new."""
        rows = [row for row in self.rows if row["name"] in SERVICES]
        for i, row in enumerate(rows):
            if row["name"] in WORKERS and self.random.random() < 0.1:
                rows[i] = self._spawn(row["name"])
        while len(rows) < self.size:
            name = self.random.choice(COMMANDS)
            if self.random.random() < 0.05:  # a one-off job with a name of its own
                name = f"job-{self.random.randint(1, 500)}"
            rows.append(self._spawn(name))
        for row in rows:
            row["cpu_percent"] = round(self.random.uniform(0, 30 if row["name"] in WORKERS else 8), 2)
            row["memory_mb"] = round(self.random.uniform(5, 900 if row["name"] in WORKERS else 40), 1)
        self.rows = rows
        self.pids_seen.update(row["pid"] for row in rows)
        self.names_seen.update(row["name"] for row in rows)
        return rows


def post_tables(url: str, token: str, hostname: str, host: Host, minutes: int, interval: int) -> tuple[int, float]:
    """Post the tables over one keep-alive connection, honouring 429's Retry-After: (tables, seconds)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    # the host is named in a header: with a fleet token the body alone (seed 002's) names none
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}", "X-Agent-Hostname": hostname}
    count = minutes * 60 // interval
    start = time.time() - minutes * 60
    started = time.perf_counter()
    for i in range(count):
        body = orjson.dumps(
            {"timestamp": start + i * interval, "total_cpu_percent": 42.0, "top_processes": host.tick()}
        )
        while True:
            try:
                conn.request("POST", "/ingest/metrics", body, headers)
                response = conn.getresponse()
                answer = response.read()
            except (ConnectionError, http.client.HTTPException):
                # the console closed an idle keep-alive connection (e.g. while we waited out a 429)
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                continue
            if response.status != 429:
                break
            time.sleep(float(response.getheader("Retry-After") or 1))
        if response.status != 200:
            raise SystemExit(f"table {i}: {response.status} {answer[:300]!r}")
    conn.close()
    return count, time.perf_counter() - started


def series_of(hostname: str) -> dict[str, int]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.conf import settings

    from monitoring.models import Series

    found = Series.objects.filter(server__hostname=hostname)
    return {
        "all": found.count(),
        "process": found.filter(metric_type="process").count(),
        "names": found.filter(metric_type="process").values("labels__name").distinct().count(),
        "top_n": settings.PROCESS_SERIES_TOP_N,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("BENCH_URL", ""))
    parser.add_argument("--token", default=os.environ.get("BENCH_TOKEN", ""))
    parser.add_argument("--start", action="store_true", help="start daphne on a free port")
    parser.add_argument("--host", default=f"bench-processes-{int(time.time())}")
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--interval", type=int, default=10)
    parser.add_argument("--processes", type=int, default=60)
    args = parser.parse_args()

    procs = []
    url = args.url
    env = bench_env(AGENT_RATE_LIMIT_PER_MINUTE="0")
    if args.start:
        (url,), procs = start_consoles(1, env)
    elif not url:
        raise SystemExit("give --url (and --token) of a running console, or --start")
    try:
        token = args.token or issue_token(args.host, env=env)
        host = Host(args.processes)
        tables, seconds = post_tables(url, token, args.host, host, args.minutes, args.interval)
    finally:
        for proc in procs:
            proc.terminate()
    os.environ.update({k: v for k, v in env.items() if k in ("DATABASE_URL", "DATA_DIR")})
    series = series_of(args.host)
    print(f"host {args.host}: {tables} tables of {args.processes} processes over {args.minutes} min in {seconds:.1f} s")
    print(f"  distinct pids posted   {len(host.pids_seen):>7,}")
    print(f"  distinct names posted  {len(host.names_seen):>7,}")
    print(f"  keyed by pid it would be {2 * len(host.pids_seen):,} process series (cpu, memory per pid)")
    print(
        f"  series kept            {series['all']:>7,}  ({series['process']} process series over {series['names']} "
        f"names; PROCESS_SERIES_TOP_N={series['top_n']})"
    )


if __name__ == "__main__":
    main()
