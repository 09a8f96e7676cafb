"""Storage benchmark: bytes per sample of a realistic day, as narrow rows and per compact layout tried.

Loads one closed day of agent data into a database of its own (``bench_storage``)
in an embedded PostgreSQL under DATA_DIR ``.data/bench`` (never the console's
data): SERIES series sampled every 10 s (8,640 samples a day each), a third
wandering gauges with two decimals, a third integer counters climbing at an
uneven rate, a sixth constants, a sixth gauges with full float noise; half the
series on exact 10 s ticks, half late by 0 to 100 ms (microseconds kept).

Then it measures bytes per sample counting every relation whose name
contains ``sample`` (tables, indexes and TOAST: pg_total_relation_size), for

  narrow rows            the day as written by ingest (monitoring_sample)
  arrays, pglz / lz4     one row per (series, day): timestamptz[] and float8[]
                         under TOAST compression (lz4 only if PostgreSQL has it)
  chunks, zlib           monitoring/chunks.py with zlib
  chunks, zstd           monitoring/chunks.py with zstd: what upkeep does
                         (monitoring.compaction.compact_day, timed)

and checks that the compacted day reads back sample for sample.
Target: <= 16 B per sample compacted, aim <= 4 B.

    .venv/bin/python bench/storage.py [--series 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA_DIR = ROOT / ".data" / "bench"
DATABASE = "bench_storage"
INTERVAL_US = 10_000_000
PER_DAY = 8640


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=200, help="series in the day (default 200: 1.7 M samples)")
    args = parser.parse_args()

    from config import embedded

    pg = embedded.EmbeddedPostgres(DATA_DIR, fast=True)
    started = pg.port() is None
    url = pg.ensure_running()
    _create_database(url, DATABASE)
    os.environ.update(
        DATA_DIR=str(DATA_DIR),
        DATABASE_URL=url.rsplit("/", 1)[0] + "/" + DATABASE,
        DEBUG="false",
        SECRET_KEY="bench-storage-not-secret",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    try:
        run(args.series)
    finally:
        if started:
            embedded.stop_all(DATA_DIR)


def _create_database(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(series_count: int) -> None:
    import django

    django.setup()
    from datetime import UTC, datetime, timedelta

    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    day = (datetime.now(UTC) - timedelta(days=3)).date()
    ids = reset(series_count)
    samples = load(ids, day)
    results = [("narrow rows (before)", sample_bytes())]
    results += arrays_layouts()
    results.append(("chunks, zlib", zlib_chunks(day)))
    t0 = time.monotonic()
    from monitoring import compaction

    done = compaction.compact_day(day)
    took = time.monotonic() - t0
    vacuum()
    results.append(("chunks, zstd (upkeep's)", sample_bytes()))
    check(ids, day)
    print()
    print(f"{samples:,} samples of {len(ids)} series over {day} (bytes of every relation named *sample*):")
    print()
    print("| layout | bytes | bytes per sample |")
    print("|---|---:|---:|")
    for name, size in results:
        print(f"| {name} | {size:,} | {size / samples:.2f} |")
    print()
    print(f"compaction of the day: {took:.1f} s ({done.samples:,} samples, {done.series} series)")
    print("target <= 16 B per sample compacted, aim <= 4 B:", "met" if results[-1][1] / samples <= 4 else "NOT met")


def reset(series_count: int) -> list[int]:
    from django.db import connection

    from monitoring import compaction, partitions
    from monitoring.models import Series
    from servers.models import Server

    with connection.cursor() as cursor:
        for table in (compaction.SAMPLE_TABLE, compaction.CHUNK_TABLE):
            for name, _ in partitions.existing(cursor, table):
                cursor.execute(f'DROP TABLE "{name}"')
        cursor.execute("DROP TABLE IF EXISTS bench_sample_arrays, bench_sample_chunk_zlib")
        cursor.execute("TRUNCATE monitoring_rollupdirty")
    partitions.forget()
    Series.objects.all().delete()
    Server.objects.filter(hostname__startswith="bench-").delete()
    ids = []
    for i in range(series_count):
        server, _ = Server.objects.get_or_create(hostname=f"bench-{i // 100:02d}")
        ids.append(Series.objects.create(server=server, metric_type="bench", name=f"s{i}", labels={}).id)
    return ids


def series_values(i: int, rng):
    """A day of one series: the kind follows i (gauge, counter, gauge, counter, constant, noisy gauge)."""
    import numpy as np

    kind = i % 6
    if kind in (0, 2):  # a percentage wandering with two decimals
        walk = np.cumsum(rng.normal(0, rng.uniform(0.05, 2.0), PER_DAY)) + rng.uniform(10, 90)
        return np.round(np.clip(walk, 0, 100), 2)
    if kind in (1, 3):  # bytes or packets: a counter climbing unevenly
        return np.cumsum(rng.integers(0, rng.integers(10, 200_000), PER_DAY)).astype(np.float64)
    if kind == 4:  # total memory, cores, a limit
        return np.full(PER_DAY, float(rng.choice([8, 16384, 64e9, 1.5])))
    return rng.normal(0.5, 0.1, PER_DAY)  # a ratio computed by the agent, full float noise


def load(ids: list[int], day) -> int:
    """The day's samples with binary COPY into its partition; half the series late by 0 to 100 ms (a scheduler's jitter)."""
    from datetime import UTC, datetime

    import numpy as np
    from django.db import connection, transaction

    from monitoring import compaction, partitions
    from monitoring.pgcopy import PG_EPOCH_US, SAMPLES, SIGNATURE, TRAILER, sample_block

    rng = np.random.default_rng(15)
    start_us = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1_000_000
    ticks = start_us + np.arange(PER_DAY, dtype=np.int64) * INTERVAL_US
    t0 = time.monotonic()
    with transaction.atomic(), connection.cursor() as wrapper:
        cursor = wrapper.cursor
        partitions.ensure(cursor, compaction.SAMPLE_TABLE, [day])
        # a scrape at a time, every series of it, as agents send them
        sids, stamps, values = (np.zeros((PER_DAY, len(ids)), dtype=kind) for kind in (np.int64, np.int64, np.float64))
        for column, sid in enumerate(ids):
            sids[:, column] = sid
            stamps[:, column] = ticks if column % 2 == 0 else ticks + rng.integers(0, 100_001, PER_DAY)
            values[:, column] = series_values(column, rng)
        with cursor.copy(SAMPLES.sql) as copy:
            copy.write(SIGNATURE)
            copy.write(sample_block(sids.ravel(), stamps.ravel() - PG_EPOCH_US, values.ravel()))
            copy.write(TRAILER)
    vacuum()
    log(f"loaded {sids.size:,} samples in {time.monotonic() - t0:.0f} s")
    return sids.size


def vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def sample_bytes() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(pg_total_relation_size(oid)), 0) FROM pg_class "
            "WHERE relname LIKE '%%sample%%' AND relkind IN ('r', 'm')"
        )
        return int(cursor.fetchone()[0])


def arrays_layouts() -> list[tuple[str, int]]:
    """One row per (series, day) of timestamptz[] and float8[] under each TOAST compression this server has."""
    from django.db import connection, transaction

    out = []
    for method in ("pglz", "lz4"):
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_sample_arrays")
            cursor.execute(
                "CREATE TABLE bench_sample_arrays (series_id bigint, day date, ts timestamptz[], value float8[], "
                "PRIMARY KEY (series_id, day))"
            )
            try:
                with transaction.atomic():
                    cursor.execute(f"ALTER TABLE bench_sample_arrays ALTER ts SET COMPRESSION {method}")
                    cursor.execute(f"ALTER TABLE bench_sample_arrays ALTER value SET COMPRESSION {method}")
            except Exception as error:  # noqa: BLE001 - a server built without lz4 says so here
                log(f"arrays, {method}: not available ({str(error).strip()})")
                continue
            cursor.execute(
                "INSERT INTO bench_sample_arrays SELECT series_id, ts::date, array_agg(ts ORDER BY ts, value), "
                "array_agg(value ORDER BY ts, value) FROM monitoring_sample GROUP BY 1, 2"
            )
            cursor.execute("VACUUM ANALYZE bench_sample_arrays")
            cursor.execute("SELECT pg_total_relation_size('bench_sample_arrays')")
            out.append((f"arrays, {method} TOAST", int(cursor.fetchone()[0])))
            cursor.execute("DROP TABLE bench_sample_arrays")
    return out


def zlib_chunks(day) -> int:
    """The chunk layout with zlib instead of zstd, in a scratch table shaped like the real one."""
    from django.db import connection, transaction

    from monitoring import chunks, compaction, partitions

    part = partitions.partition_name(compaction.SAMPLE_TABLE, day)
    run_part = partitions.partition_name(compaction.RUN_TABLE, day)
    with transaction.atomic(), connection.cursor() as wrapper:
        cursor = wrapper.cursor
        partitions.ensure(cursor, compaction.RUN_TABLE, [day])  # this bench loads rows only: no runs to read
        cursor.execute("CREATE TABLE bench_sample_chunk_zlib (LIKE monitoring_sample_chunk INCLUDING ALL)")
        for sids, stamps, values in compaction._series_batches(cursor, part, run_part):
            series = compaction._merge_existing(cursor, "bench_sample_chunk_zlib", sids, stamps, values)
            compaction._write_chunks(cursor, "bench_sample_chunk_zlib", day, series, chunks.ZLIB)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE bench_sample_chunk_zlib")
        cursor.execute("SELECT pg_total_relation_size('bench_sample_chunk_zlib')")
        size = int(cursor.fetchone()[0])
        cursor.execute("DROP TABLE bench_sample_chunk_zlib")
    return size


def check(ids: list[int], day) -> None:
    """The compacted day reads back as loaded: same count and sums per series (recomputed from the generator)."""
    from datetime import UTC, datetime, timedelta

    from django.db import connection

    from monitoring import compaction

    lo = datetime(day.year, day.month, day.day, tzinfo=UTC)
    hi = lo + timedelta(days=1) - timedelta(microseconds=1)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {compaction.SAMPLE_TABLE} WHERE ts >= %s AND ts <= %s", [lo, hi])
        narrow_left = cursor.fetchone()[0]
        relation = compaction.samples_from(lo, hi, ids[:10])
        cursor.execute(
            f"SELECT count(*) FROM {relation} x WHERE ts >= %s AND ts <= %s AND series_id = ANY(%s)", [lo, hi, ids[:10]]
        )
        read_back = cursor.fetchone()[0]
    if narrow_left or read_back != 10 * PER_DAY:
        raise SystemExit(
            f"compaction check failed: {narrow_left} rows left, {read_back} samples read back of 10 series"
        )


if __name__ == "__main__":
    main()
