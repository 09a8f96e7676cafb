"""What we encode by hand is byte for byte what psycopg sends: COPY rows (chunks, the benchmarks' samples, runs,
marks) and the array parameters of ingest's statement (monitoring/pgarrays.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from psycopg import pq
from psycopg._copy_base import BinaryFormatter  # psycopg's own encoder behind Copy.write_row
from psycopg.adapt import Transformer
from psycopg.postgres import types

from monitoring import compaction
from monitoring.pgarrays import Float8Array, Int4Array, Int8Array, TimestamptzArray
from monitoring.pgcopy import (
    PG_EPOCH_US,
    SAMPLES,
    SIGNATURE,
    TRAILER,
    BinaryCopy,
    pg_microseconds,
    pg_minute,
    sample_block,
)

RUNS = BinaryCopy(
    compaction.RUN_TABLE,
    [
        ("series_id", "int8"),
        ("first_ts", "timestamptz"),
        ("last_ts", "timestamptz"),
        ("ts", "timestamptz[]"),
        ("value", "float8[]"),
    ],
)
MARKS = BinaryCopy("monitoring_rollupdirty", [("series_id", "int8"), ("bucket", "timestamptz")])


def psycopg_bytes(copy: BinaryCopy, rows: list[tuple]) -> bytes:
    """The COPY stream psycopg's ``Copy.write_row`` sends for these rows, after ``set_types(copy.types)``."""
    transformer = Transformer()
    transformer.set_dumper_types([types.get_oid(kind) for kind in copy.types], pq.Format.BINARY)
    formatter = BinaryFormatter(transformer)
    out = b"".join(bytes(formatter.write_row(row)) for row in rows)
    return out + bytes(formatter.end())


NOW = datetime(2026, 11, 30, 10, 15, 30, 123456, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=9000)  # before PostgreSQL's epoch: negative microseconds


@pytest.mark.parametrize(
    "rows",
    [
        [(1, NOW, 42.5)],
        [(2**62, LONG_AGO, -0.0), (7, NOW + timedelta(microseconds=1), 1e300), (3, NOW, -7.25)],
        [(5, NOW, float("inf")), (5, NOW, float("-inf"))],
        [],
    ],
)
def test_samples_are_encoded_as_psycopg_encodes_them(rows):
    copy = SAMPLES
    ours = copy.encode(copy.rows([r[0] for r in rows], [pg_microseconds(r[1]) for r in rows], [r[2] for r in rows]))
    assert ours == psycopg_bytes(copy, rows)


def test_a_day_of_samples_encoded_at_once_matches_psycopg():
    rows = [(9, NOW + timedelta(seconds=10 * i), i / 3) for i in range(50)] + [(2**40, LONG_AGO, -1.5)]
    block = sample_block(
        np.array([r[0] for r in rows]),
        np.array([pg_microseconds(r[1]) for r in rows]),
        np.array([r[2] for r in rows]),
    )
    assert SIGNATURE + block + TRAILER == psycopg_bytes(SAMPLES, rows)


def test_runs_of_samples_are_encoded_as_psycopg_encodes_them():
    stamps = [NOW + timedelta(seconds=15 * i, microseconds=i) for i in range(7)]
    values = [0.1 * i - 0.3 for i in range(7)]
    rows = [
        (42, stamps[0], stamps[-1], stamps, values),
        (43, LONG_AGO, LONG_AGO, [LONG_AGO], [float("nan")]),
        (44, NOW, NOW, [], []),  # never written by ingest, still encoded as psycopg would
    ]
    ours = RUNS.encode(
        [
            RUNS.row(sid, pg_microseconds(first), pg_microseconds(last), [pg_microseconds(t) for t in ts], vs)
            for sid, first, last, ts, vs in rows
        ]
    )
    assert ours == psycopg_bytes(RUNS, rows)


def test_rollup_marks_are_encoded_as_psycopg_encodes_them():
    minutes = [int(NOW.timestamp() // 60) + offset for offset in (0, 1, -60 * 24 * 400)]
    rows = [(11, datetime.fromtimestamp(minute * 60, UTC)) for minute in minutes]
    ours = MARKS.encode(MARKS.rows([r[0] for r in rows], [pg_minute(m) for m in minutes]))
    assert ours == psycopg_bytes(MARKS, rows)


def test_compacted_chunks_are_encoded_as_psycopg_encodes_them():
    copy = BinaryCopy('"monitoring_sample_chunk_p20261130"', compaction._CHUNK_COLUMNS)
    midnight = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
    rows = [
        (3, midnight, NOW, NOW + timedelta(hours=1), 0.25, 360, b"\x28\xb5\x2f\xfd chunk"),
        (4, midnight, NOW, NOW, -1.0, 1, b""),
        (5, midnight, None, None, None, None, None),  # NULLs: never written, still encoded as psycopg would
    ]
    ours = copy.encode([copy.row(*[pg_microseconds(v) if isinstance(v, datetime) else v for v in row]) for row in rows])
    assert ours == psycopg_bytes(copy, rows)


def test_unix_microseconds_and_postgres_microseconds_differ_by_the_epoch():
    assert pg_microseconds(NOW) == int(NOW.timestamp()) * 1_000_000 + NOW.microsecond - PG_EPOCH_US


def test_only_columns_of_eight_byte_kinds_are_encoded_column_wise():
    with pytest.raises(ValueError):
        BinaryCopy("t", [("a", "int8")]).rows([1])
    with pytest.raises(ValueError):
        BinaryCopy("t", [("a", "int8"), ("n", "int4")]).rows([1], [2])


def test_a_kind_without_an_encoding_is_refused():
    with pytest.raises(ValueError):
        BinaryCopy("t", [("a", "int8"), ("labels", "jsonb")])


@pytest.mark.parametrize(
    ("array", "kind", "values", "wire"),
    [
        (Int8Array, "int8", [1, 2**62, -5], [1, 2**62, -5]),
        (Int4Array, "int4", [1, 2**31 - 1], [1, 2**31 - 1]),
        (Float8Array, "float8", [0.5, -0.0, 1e300], [0.5, -0.0, 1e300]),
        (TimestamptzArray, "timestamptz", [NOW, LONG_AGO], [pg_microseconds(NOW), pg_microseconds(LONG_AGO)]),
        (Float8Array, "float8", [], []),
    ],
)
def test_the_array_parameters_ingest_sends_are_what_psycopg_sends(array, kind, values, wire):
    data = array(np.array(wire)).data
    one_field = b"\x00\x01" + len(data).to_bytes(4, "big") + data
    assert SIGNATURE + one_field + TRAILER == psycopg_bytes(BinaryCopy("t", [("a", f"{kind}[]")]), [(values,)])
