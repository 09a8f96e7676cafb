"""Logs benchmark: ingest rate (lines/s) and full-text search latency over ~5 million lines.

Runs in-process against a PostgreSQL of its own (the embedded one under
DATA_DIR, default .data/bench; or DATABASE_URL), so it never fills the
console's own store:

1. ingest through the seed 004 batch endpoint (Django test client: the whole
   Django stack, adapter, COPY; no network), 1,000 lines a request, for
   ``--seconds`` seconds;
2. ingest through the continuous stream (the raw ASGI app of ingest/streaming.py,
   driven with channels' ApplicationCommunicator) of ``--stream-lines`` lines;
3. fill the store up to ``--rows`` lines spread evenly over the last 7 days
   (SQL generate_series in chunks, progress printed; skipped if already there);
4. time GET /api/v1/logs's query (monitoring.log_search.search, limit 100) for
   ``q`` searches over a 1-hour window and over 7 days: p50 and p95.

    .venv/bin/python bench/logs.py                   # defaults: 5,000,000 rows
    .venv/bin/python bench/logs.py --rows 1000000 --seconds 5
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATA_DIR", str(ROOT / ".data" / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("AGENT_RATE_LIMIT_PER_MINUTE", "0")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-logs-only-not-a-secret")

SERVICES = [f"svc-{i:02d}" for i in range(20)]
# message templates of the generated lines: %1$s..%3$s are filled with numbers and hex ids
TEMPLATES = [
    "GET /api/users/%1$s 200 in %2$sms",
    "POST /api/orders/%1$s 201 in %2$sms",
    "Database connection failed: timeout after %2$s ms (host=db-%3$s:5432)",
    "User %1$s not found in tenant %3$s",
    "Payment %4$s declined by gateway stripe: insufficient funds",
    "Cache miss for key session:%4$s",
    "Worker %3$s processed job %1$s in %2$sms",
    "Retrying request %4$s after upstream reset by peer",
    "Health check ok for instance %3$s",
    "Deadlock detected while updating inventory row %1$s",
    "Slow query on orders table took %2$sms",
    "Scheduled report %1$s generated for tenant %3$s",
]
RARE_SEARCHES = ["4242", "a0b1c2d3", "nonexistentword"]  # one line, none: the GIN index's case
SEARCHES = ["timeout", "deadlock", "payment declined", '"connection failed"', "inventory", "cache miss", "tenant"]


def setup_django():
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def issue_fleet_token() -> str:
    from servers.models import AgentToken

    return AgentToken.issue("fleet", name="bench-logs")[1]


def batch_body(service: str, n: int, seq: int) -> bytes:
    now = datetime.now(UTC).isoformat()
    logs = [
        {
            "timestamp": now,
            "level": "ERROR" if i % 20 == 0 else "INFO",
            "message": TEMPLATES[i % len(TEMPLATES)]
            .replace("%1$s", str(seq * n + i))
            .replace("%2$s", str(i % 900))
            .replace("%3$s", str(i % 7))
            .replace("%4$s", f"{(seq * n + i) * 2654435761 % 2**32:08x}"),
            "service": service,
            "metadata": {"request": i},
        }
        for i in range(n)
    ]
    return orjson.dumps({"service_name": service, "logs": logs})


def bench_batch_endpoint(token: str, seconds: float, per_request: int) -> float:
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    bodies = [batch_body("bench-batch", per_request, seq) for seq in range(20)]
    lines = requests = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        body = bodies[requests % len(bodies)]
        response = client.post(
            "/api/logs/stream/bench-batch",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_IDEMPOTENCY_KEY=f"bench-{time.time_ns()}",
        )
        assert response.status_code == 202, response.content[:300]
        lines += per_request
        requests += 1
    elapsed = time.perf_counter() - started
    rate = lines / elapsed
    print(f"  batch endpoint: {lines:,} lines in {requests} requests, {elapsed:.1f} s -> {rate:,.0f} lines/s")
    return rate


def bench_continuous(token: str, total_lines: int) -> float:
    from asgiref.sync import async_to_sync
    from channels.testing import ApplicationCommunicator

    from config.asgi import application

    line = b"".join(
        orjson.dumps({"level": "INFO", "message": f"Worker {i % 7} processed stream job {i} in {i % 900}ms"}) + b"\n"
        for i in range(1000)
    )
    chunks = total_lines // 1000
    path = "/api/logs/stream/bench-stream/continuous"
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
    }

    async def run():
        communicator = ApplicationCommunicator(application, scope)
        for i in range(chunks):
            await communicator.send_input({"type": "http.request", "body": line, "more_body": i < chunks - 1})
        start = await communicator.receive_output(timeout=600)
        body = await communicator.receive_output(timeout=600)
        return start["status"], orjson.loads(body["body"])

    started = time.perf_counter()
    status, summary = async_to_sync(run)()
    elapsed = time.perf_counter() - started
    assert status == 200, summary
    rate = summary["logs_stored"] / elapsed
    print(
        f"  continuous stream: {summary['logs_stored']:,} lines in {summary['batches']} flushes, "
        f"{elapsed:.1f} s -> {rate:,.0f} lines/s"
    )
    return rate


def fill(rows: int, chunk: int) -> None:
    """Spread ``rows`` generated lines evenly over the last 7 days, oldest first, in chunks."""
    from django.db import connection

    from monitoring import partitions

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM monitoring_logentry WHERE source = 'bench'")
        have = cursor.fetchone()[0]
    if have >= rows * 0.95:
        print(f"  {have:,} generated lines already stored; not filling")
        return
    now = datetime.now(UTC)
    start = now - timedelta(days=7)
    step = (now - start).total_seconds() / rows
    with connection.cursor() as cursor:
        partitions.ensure(cursor.cursor, "monitoring_logentry", {(start + timedelta(days=d)).date() for d in range(8)})
    # literal text in the statement: quotes doubled for SQL, % doubled for the driver's placeholders
    templates = "ARRAY[" + ",".join("'" + t.replace("'", "''").replace("%", "%%") + "'" for t in TEMPLATES) + "]"
    services = "ARRAY[" + ",".join(f"'{s}'" for s in SERVICES) + "]"
    started = time.perf_counter()
    done = have
    while done < rows:
        n = min(chunk, rows - done)
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO monitoring_logentry (ts, service, level, message, metadata, source)
                SELECT %s::timestamptz + make_interval(secs => i * %s),
                       ({services})[1 + (i * 7) %% {len(SERVICES)}],
                       CASE WHEN i %% 97 = 0 THEN 'CRITICAL' WHEN i %% 13 = 0 THEN 'ERROR'
                            WHEN i %% 7 = 0 THEN 'WARNING' WHEN i %% 5 = 0 THEN 'DEBUG' ELSE 'INFO' END,
                       format(({templates})[1 + (i * 11) %% {len(TEMPLATES)}],
                              i, i %% 900, i %% 7, to_hex((i * 2654435761) %% 4294967296)),
                       '{{}}'::jsonb, 'bench'
                FROM generate_series(%s::bigint, %s::bigint) AS i
                """,
                [start, step, done, done + n - 1],
            )
        done += n
        elapsed = time.perf_counter() - started
        print(f"  filled {done:,}/{rows:,} lines ({(done - have) / elapsed:,.0f} lines/s)", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE monitoring_logentry")


def time_searches(runs: int) -> dict:
    from monitoring.log_search import LogFilter, search

    now = datetime.now(UTC)
    rng = random.Random(5)
    found = {}
    cases = (
        ("1 hour", timedelta(hours=1), SEARCHES),
        ("7 days", timedelta(days=7), SEARCHES),
        ("7 days, rare terms", timedelta(days=7), RARE_SEARCHES),
    )
    for label, window, terms in cases:
        timings = []
        for _ in range(runs):
            q = rng.choice(terms)
            if window < timedelta(days=1):
                end = now - timedelta(seconds=rng.uniform(0, 6 * 86400))
            else:
                end = now
            started = time.perf_counter()
            results, _ = search(LogFilter(start=end - window, end=end, q=q), limit=100)
            timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        p50 = statistics.median(timings)
        p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
        found[label] = (p50, p95)
        print(f"  q over {label}: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({runs} searches of {terms})")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000, help="lines to have in the store for the searches")
    parser.add_argument("--chunk", type=int, default=250_000, help="lines per fill statement")
    parser.add_argument("--seconds", type=float, default=10, help="seconds of batch-endpoint ingest")
    parser.add_argument("--per-request", type=int, default=1000, help="lines per batch request")
    parser.add_argument("--stream-lines", type=int, default=50_000, help="lines through the continuous stream")
    parser.add_argument("--runs", type=int, default=40, help="searches per window")
    args = parser.parse_args()

    print(f"setting up (DATA_DIR={os.environ['DATA_DIR']})", flush=True)
    setup_django()
    token = issue_fleet_token()
    print("ingest:", flush=True)
    bench_batch_endpoint(token, args.seconds, args.per_request)
    bench_continuous(token, args.stream_lines)
    print(f"fill to {args.rows:,} lines over 7 days:", flush=True)
    fill(args.rows, args.chunk)
    print("full-text search (GET /api/v1/logs query, limit 100):", flush=True)
    time_searches(args.runs)


if __name__ == "__main__":
    main()
