"""The hand-built binary COPY of samples and roll-up marks is byte for byte what psycopg's write_row sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from psycopg import pq
from psycopg._copy_base import BinaryFormatter  # psycopg's own encoder behind Copy.write_row
from psycopg.adapt import Transformer
from psycopg.postgres import types

from monitoring.pgcopy import BinaryCopy, pg_microseconds, pg_minute


def psycopg_bytes(kinds: list[str], rows: list[tuple]) -> bytes:
    transformer = Transformer()
    transformer.set_dumper_types([types.get(kind).oid for kind in kinds], pq.Format.BINARY)
    formatter = BinaryFormatter(transformer)
    out = b"".join(bytes(formatter.write_row(row)) for row in rows)
    return out + bytes(formatter.end())


SAMPLE_COLUMNS = [("series_id", "int8"), ("ts", "timestamptz"), ("value", "float8")]
MARK_COLUMNS = [("series_id", "int8"), ("bucket", "timestamptz")]
NOW = datetime(2026, 11, 30, 10, 15, 30, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    "rows",
    [
        [(1, NOW, 42.5)],
        [(2**62, NOW - timedelta(days=9000), -0.0), (7, NOW + timedelta(microseconds=1), 1e300), (3, NOW, -7.25)],
        [],
    ],
)
def test_samples_are_encoded_as_psycopg_encodes_them(rows):
    copy = BinaryCopy("monitoring_sample", SAMPLE_COLUMNS)
    ours = copy.encode(copy.rows([r[0] for r in rows], [pg_microseconds(r[1]) for r in rows], [r[2] for r in rows]))
    assert ours == psycopg_bytes(["int8", "timestamptz", "float8"], rows)


def test_rollup_marks_are_encoded_as_psycopg_encodes_them():
    minutes = [int(NOW.timestamp() // 60) + offset for offset in (0, 1, -60 * 24 * 400)]
    rows = [(11, datetime.fromtimestamp(minute * 60, UTC)) for minute in minutes]
    copy = BinaryCopy("monitoring_rollupdirty", MARK_COLUMNS)
    ours = copy.encode(copy.rows([r[0] for r in rows], [pg_minute(m) for m in minutes]))
    assert ours == psycopg_bytes(["int8", "timestamptz"], rows)


def test_a_row_of_another_width_is_refused():
    with pytest.raises(ValueError):
        BinaryCopy("t", [("a", "int8")])
