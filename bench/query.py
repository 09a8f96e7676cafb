"""Query benchmark: the same fleet at two sizes, timed through GET /api/v1/metrics.

Loads a synthetic fleet (2 servers x 10 series, one sample a minute) into a
database of its own per size, in an embedded PostgreSQL under DATA_DIR
``.data/bench`` (never the console's data): about 1 million samples (35 days)
and about 20 million (694 days, so 694 day partitions): same series, longer
history. The small size still holds more than 30 days, so every query returns
the same number of points at both sizes. Samples go in with binary COPY
straight into their day partitions, then roll-ups are built from them
(monitoring.rollups.rebuild). Then it times p50/p95 of

  (a) a 1-hour raw query of one series          (60 points)
  (b) a 24-hour query at step 5m of one series   (289 points, 1-minute roll-ups)
  (c) a 30-day query at step 1h of one series    (721 points, 1-hour roll-ups)
  (d) the latest values of all series of one server (10 series)
  (e) a 24-hour query at step 90s of one series over a closed day still
      held as rows                               (960 points, 1,440 raw samples)
  (f) the same over a closed day compacted by upkeep (monitoring/compaction.py;
      compacted here before timing, once)

through the DRF view in process (authentication with a person's token, series
lookup, query, JSON) and, for the same parameters, monitoring/query.py alone
(the database's share). The sizes are timed in alternating rounds (3 by
default) and each keeps its best p50, so that other work on a shared machine
weighs on both alike. Prints the table and the ratios large / small.
Targets: p50 < 20 ms for a, b, d, < 50 ms for c; ratio <= 1.3; (f) at most 2x (e).

    .venv/bin/python bench/query.py                 # both sizes (the 20M load takes a few minutes)
    .venv/bin/python bench/query.py --sizes small   # 1M only
    .venv/bin/python bench/query.py --reload        # drop the loaded data and load again

A loaded size is kept and reused by the next run (its queries are relative to
the end of the loaded data). ``make stop DATA_DIR=.data/bench`` is not needed:
the script stops the embedded PostgreSQL it started when it is done.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA_DIR = ROOT / ".data" / "bench"
SIZES = {"small": 35, "large": 694}  # days of history; 20 series every 60 s = 28,800 samples a day
SERVERS = 2
SERIES_PER_SERVER = [
    ("cpu", "usage", {"core": "0"}),
    ("cpu", "usage", {"core": "1"}),
    ("cpu", "usage", {"core": "2"}),
    ("cpu", "usage", {"core": "3"}),
    ("ram", "usage_percent", {}),
    ("disk", "used_percent", {"mount": "/"}),
    ("net", "rx_bytes", {"iface": "eth0"}),
    ("net", "tx_bytes", {"iface": "eth0"}),
    ("load", "load1", {}),
    ("load", "load5", {}),
]
INTERVAL = 60
QUERIES = ("a", "b", "c", "d", "e", "f")
LABELS = {
    "a": "1 h raw, one series",
    "b": "24 h step 5m, one series",
    "c": "30 d step 1h, one series",
    "d": "latest, all series of a server",
    "e": "24 h step 90s (raw), a closed day as rows",
    "f": "24 h step 90s (raw), a compacted day",
}
TARGETS = {"a": "< 20", "b": "< 20", "c": "< 50", "d": "< 20", "e": "-", "f": "<= 2x (e)"}
# the closed days of (e) and (f), counted back from the end of the loaded data
ROWS_DAY, COMPACTED_DAY = 4, 3


# --- parent: one child process per size (each its own database and Django setup) --------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="small,large", help="comma-separated: small, large")
    parser.add_argument("--reload", action="store_true", help="load again even if the data is there")
    parser.add_argument("--runs", type=int, default=200, help="timed requests per query (after 20 warm-up)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over the sizes; the best p50 of each is kept")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.reload, args.runs)
        return

    from config import embedded

    pg = embedded.EmbeddedPostgres(DATA_DIR, fast=True)
    started = pg.port() is None
    url = pg.ensure_running()
    results: dict[str, dict] = {}
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    for size in sizes:
        if size not in SIZES:
            parser.error(f"unknown size {size!r}")
    try:
        # rounds alternate the sizes, so that other work on a shared machine weighs on both alike
        for round_ in range(args.rounds):
            for size in sizes:
                database = f"bench_{size}"
                _create_database(url, database)
                env = {
                    **os.environ,
                    "DATA_DIR": str(DATA_DIR),
                    "DATABASE_URL": url.rsplit("/", 1)[0] + "/" + database,
                    "DEBUG": "false",
                    "SECRET_KEY": "bench-query-not-secret",
                    "ALLOWED_HOSTS": "testserver",
                    "LOG_LEVEL": "WARNING",
                }
                command = [sys.executable, __file__, "--child", size, "--runs", str(args.runs)]
                if args.reload and round_ == 0:
                    command.append("--reload")
                log(f"round {round_ + 1}/{args.rounds}: {size}")
                out = subprocess.run(command, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
                result = json.loads(out.strip().splitlines()[-1])
                best = results.setdefault(size, result)
                for q in QUERIES:
                    if result["timings"][q]["p50"] < best["timings"][q]["p50"]:
                        best["timings"][q] = result["timings"][q]
                    best["timings"][q]["query_p50"] = min(
                        best["timings"][q]["query_p50"], result["timings"][q]["query_p50"]
                    )
    finally:
        if started:
            embedded.stop_all(DATA_DIR)
    report(results)


def _create_database(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def report(results: dict) -> None:
    print()
    header = "| query | size | samples | points | API p50 ms | API p95 ms | query layer p50 ms | target p50 |"
    print(header)
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for q in QUERIES:
        for size, result in results.items():
            t = result["timings"][q]
            print(
                f"| ({q}) {LABELS[q]} | {size} | {result['samples']:,} | {t['points']} | "
                f"{t['p50']:.1f} | {t['p95']:.1f} | {t['query_p50']:.2f} | {TARGETS[q]} |"
            )
    if "small" in results and "large" in results:
        print()
        print("| query | API p50 large / small | API p95 large / small | query layer p50 large / small |")
        print("|---|---:|---:|---:|")
        for q in QUERIES:
            small, large = results["small"]["timings"][q], results["large"]["timings"][q]
            print(
                f"| ({q}) | {large['p50'] / small['p50']:.2f} | {large['p95'] / small['p95']:.2f} | "
                f"{large['query_p50'] / small['query_p50']:.2f} |"
            )
    print()
    for size, result in results.items():
        e, f = result["timings"]["e"], result["timings"]["f"]
        print(
            f"{size}: a compacted day costs {f['p50'] / e['p50']:.2f}x a day of rows through the API, "
            f"{f['query_p50'] / e['query_p50']:.2f}x in the query layer (target <= 2x)"
        )


# --- child: load one size if needed, then time the queries -------------------------------------------


def child(size: str, reload: bool, runs: int) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    days = SIZES[size]
    end = loaded_until(days)
    if end is None or reload:
        end = load(size, days)
    compact_one_day(end)
    result = time_queries(end, runs)
    result["samples"] = count_samples()
    print(json.dumps(result))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def loaded_until(days: int):
    """The end of the loaded data when this size is fully loaded, else None."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_loaded') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return None
        cursor.execute("SELECT finished, days FROM bench_loaded")
        row = cursor.fetchone()
    return row[0] if row and row[1] == days else None


def count_samples() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sum(reltuples)::bigint FROM pg_class WHERE relname LIKE 'monitoring_sample_p%' AND relkind = 'r'"
        )
        return int(cursor.fetchone()[0] or 0)


def load(size: str, days: int):
    import random
    from datetime import UTC, datetime, timedelta

    from django.db import connection, transaction

    from monitoring import partitions, rollups
    from monitoring.models import Series
    from monitoring.pgcopy import SAMPLES, pg_microseconds
    from servers.models import Server

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_loaded")
        for table in (*partitions.PARTITIONED_TABLES, *partitions.ROLLUP_TABLES):
            for name, _ in partitions.existing(cursor, table):
                cursor.execute(f'DROP TABLE "{name}"')
        cursor.execute("TRUNCATE monitoring_rollupdirty")
    partitions.forget()
    Series.objects.all().delete()
    Server.objects.filter(hostname__startswith="bench-").delete()

    ids = []
    for s in range(SERVERS):
        server = Server.objects.create(hostname=f"bench-{s:02d}")
        for metric_type, name, labels in SERIES_PER_SERVER:
            ids.append(Series.objects.create(server=server, metric_type=metric_type, name=name, labels=labels).id)

    end = datetime.now(UTC).replace(microsecond=0)
    end -= timedelta(seconds=end.timestamp() % INTERVAL)
    start = end - timedelta(days=days)
    rng = random.Random(size)
    level = {sid: rng.uniform(10, 90) for sid in ids}
    t0 = time.monotonic()
    written = 0
    day = start
    log(
        f"[{size}] loading {days} days x {len(ids)} series every {INTERVAL} s (~{days * 86400 // INTERVAL * len(ids):,} samples)"
    )
    while day < end:
        upto = min(day + timedelta(days=1), end)
        with transaction.atomic(), connection.cursor() as wrapper:
            cursor = wrapper.cursor
            partitions.ensure(cursor, "monitoring_sample", {partitions.day_of(day), partitions.day_of(upto)})
            rows: list[bytes] = []
            ts = day
            step = timedelta(seconds=INTERVAL)
            while ts < upto:
                for sid in ids:
                    level[sid] = min(100.0, max(0.0, level[sid] + rng.uniform(-2, 2)))
                rows += SAMPLES.rows(ids, [pg_microseconds(ts)] * len(ids), [level[sid] for sid in ids])
                written += len(ids)
                ts += step
            SAMPLES.write(cursor, rows)
        day = upto
        if written % (10 * 86400 // INTERVAL * len(ids)) == 0 or day >= end:
            done = (day - start) / (end - start)
            log(f"[{size}] {written:,} samples loaded ({done:.0%}, {time.monotonic() - t0:.0f} s)")
    log(f"[{size}] building roll-ups")
    t1 = time.monotonic()

    def progress(upto):
        if (upto - start).days % 30 == 0:
            log(f"[{size}] roll-ups built up to {upto:%Y-%m-%d} ({time.monotonic() - t1:.0f} s)")

    built = rollups.rebuild(start, end + timedelta(minutes=1), progress)
    log(f"[{size}] {built.minutes:,} minute and {built.hours:,} hour roll-ups ({time.monotonic() - t1:.0f} s)")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CREATE TABLE bench_loaded (finished timestamptz, days int)")
        cursor.execute("INSERT INTO bench_loaded VALUES (%s, %s)", [end, days])
    log(f"[{size}] loaded in {time.monotonic() - t0:.0f} s")
    return end


def compact_one_day(end) -> None:
    """Compact the day of (f), as upkeep would once it closed (nothing to do when a previous run did)."""
    from datetime import timedelta

    from monitoring import compaction

    day = (end - timedelta(days=COMPACTED_DAY)).date()
    done = compaction.compact_day(day)
    if done and done.samples:
        log(f"compacted {day}: {done.samples:,} samples of {done.series} series")


def time_queries(end, runs: int) -> dict:
    import random
    import statistics
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from monitoring.models import Series
    from monitoring.query import MetricQuery
    from servers.models import AgentToken, Server

    user, _ = get_user_model().objects.get_or_create(username="bench")
    raw_token = AgentToken.issue("user", user=user, name="bench")[1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_token}")
    series = list(Series.objects.values_list("id", "server_id", "metric_type", "name", "labels"))
    servers = [str(s) for s in Server.objects.filter(hostname__startswith="bench-").values_list("id", flat=True)]
    rng = random.Random(7)

    def iso(ts):
        return ts.strftime("%Y-%m-%dT%H:%M:%SZ")

    def closed_day(back: int) -> dict:
        midnight = (end - timedelta(days=back)).replace(hour=0, minute=0, second=0, microsecond=0)
        return {"from": iso(midnight), "to": iso(midnight + timedelta(days=1) - timedelta(seconds=1))}

    def one_series(**extra):
        _, server_id, metric_type, name, labels = rng.choice(series)
        params = {"server_id": str(server_id), "metric_type": metric_type, "metric_name": name, **extra}
        params["labels"] = [f"{k}:{v}" for k, v in labels.items()]
        return params

    makers = {
        "a": lambda: one_series(**{"from": iso(end - timedelta(hours=1)), "to": iso(end)}),
        "b": lambda: one_series(**{"from": iso(end - timedelta(hours=24)), "to": iso(end), "step": "5m"}),
        "c": lambda: one_series(**{"from": iso(end - timedelta(days=30)), "to": iso(end), "step": "1h"}),
        "d": lambda: {"server_id": rng.choice(servers)},
        "e": lambda: one_series(**closed_day(ROWS_DAY), step="90s"),
        "f": lambda: one_series(**closed_day(COMPACTED_DAY), step="90s"),
    }
    timings = {}
    for q in QUERIES:
        api_ms, layer_ms, points = [], [], 0
        for i in range(20 + runs):
            params = makers[q]()
            t = time.perf_counter()
            response = client.get("/api/v1/metrics", params)
            elapsed = (time.perf_counter() - t) * 1000
            assert response.status_code == 200, response.content[:300]
            # the same query without HTTP, auth and JSON: what the database and monitoring/query.py cost
            t = time.perf_counter()
            MetricQuery.from_params({k: v if isinstance(v, list) else [v] for k, v in params.items()}).run()
            layer = (time.perf_counter() - t) * 1000
            if i >= 20:
                api_ms.append(elapsed)
                layer_ms.append(layer)
            body = response.json()
            points = max(len(s["points"]) for s in body) if q != "d" else len(body)
        api_ms.sort()
        timings[q] = {
            "p50": statistics.median(api_ms),
            "p95": api_ms[int(len(api_ms) * 0.95) - 1],
            "query_p50": statistics.median(layer_ms),
            "points": points,
        }
        log(
            f"  ({q}) p50 {timings[q]['p50']:.1f} ms, p95 {timings[q]['p95']:.1f} ms, "
            f"query layer p50 {timings[q]['query_p50']:.2f} ms, {points} points"
        )
    return {"timings": timings}


if __name__ == "__main__":
    main()
