"""The one binary COPY encoder of the store: compacted chunks, and the samples the benchmarks load.

(Ingest sends a request's samples, runs and roll-up marks as binary array
parameters of one statement instead: monitoring/pgarrays.py, whose encoding of
an array this module uses too.) psycopg's ``Copy.write_row`` adapts every
value of every row; our rows are made of a few kinds only, so a row is built
with ``struct``: a field count, then per field its length and big-endian value
(-1 and no value for a NULL). monitoring/tests/test_pgcopy.py checks the bytes,
arrays included, against psycopg's own ``write_row`` for the same rows.

A timestamptz is given as microseconds since PostgreSQL's epoch
(``pg_microseconds``, ``pg_minute``): callers convert each distinct time once.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from monitoring.pgarrays import Float8Array, Int4Array, Int8Array, TimestamptzArray

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" * 2  # signature, flags, header extension length
TRAILER = b"\xff\xff"
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
PG_EPOCH_SECONDS = 946_684_800  # 2000-01-01 UTC, PostgreSQL's epoch, in Unix seconds
PG_EPOCH_US = PG_EPOCH_SECONDS * 1_000_000
_MICROSECOND = timedelta(microseconds=1)
_NULL = b"\xff\xff\xff\xff"

# a (series_id int8, ts timestamptz, value float8) row as numpy sees it, for whole days at once (compaction reads
# them, bench/storage.py writes them): the field count, then length + value each
SAMPLE_ROW = np.dtype(
    [("n", ">i2"), ("l1", ">i4"), ("series_id", ">i8"), ("l2", ">i4"), ("ts", ">i8"), ("l3", ">i4"), ("value", ">f8")]
)

# the fixed-width kinds: struct code, size on the wire
_FIXED = {"int8": ("q", 8), "timestamptz": ("q", 8), "float8": ("d", 8), "int4": ("i", 4)}
_ARRAYS = {"int8": Int8Array, "timestamptz": TimestamptzArray, "float8": Float8Array, "int4": Int4Array}


def pg_microseconds(ts: datetime) -> int:
    """A timestamptz on the wire: microseconds since 2000-01-01 UTC (an aware datetime)."""
    return (ts - PG_EPOCH) // _MICROSECOND


def pg_minute(minute: int) -> int:
    """A minute counted from the Unix epoch, as a timestamptz on the wire."""
    return (minute * 60 - PG_EPOCH_SECONDS) * 1_000_000


def _fixed_field(kind: str) -> Callable[[Any], bytes]:
    code, size = _FIXED[kind]
    pack = struct.Struct(f"!i{code}").pack
    return lambda value: pack(size, value)


def _bytea_field(value: bytes) -> bytes:
    return len(value).to_bytes(4, "big") + value


def _array_field(kind: str) -> Callable[[Sequence], bytes]:
    """A one-dimensional array without NULL elements, encoded as ingest's array parameters are
    (monitoring/pgarrays.py: one encoding of PostgreSQL's binary arrays)."""
    array = _ARRAYS[kind]

    def encode(values: Sequence) -> bytes:
        data = array(values).data
        return len(data).to_bytes(4, "big") + data

    return encode


def _field(kind: str) -> Callable[[Any], bytes]:
    if kind in _FIXED:
        return _fixed_field(kind)
    if kind == "bytea":
        return _bytea_field
    if kind.endswith("[]") and kind[:-2] in _ARRAYS:
        return _array_field(kind[:-2])
    raise ValueError(f"no binary COPY encoding for {kind}")


def sample_block(series_ids: np.ndarray, micros: np.ndarray, values: np.ndarray) -> bytes:
    """Rows of samples encoded at once (arrays side by side; ts in ``pg_microseconds``): bulk loads."""
    rows = np.zeros(len(series_ids), dtype=SAMPLE_ROW)
    rows["n"], rows["l1"], rows["l2"], rows["l3"] = 3, 8, 8, 8
    rows["series_id"], rows["ts"], rows["value"] = series_ids, micros, values
    return rows.tobytes()


class BinaryCopy:
    """``COPY table (columns) FROM STDIN (FORMAT BINARY)`` for columns of int8, int4, float8, timestamptz,
    bytea and one-dimensional arrays of the fixed-width ones (``"float8[]"``).

    ``rows`` encodes whole columns of two or three 8-byte kinds at once (the samples and marks hot
    path); ``row`` encodes one row of any of the kinds, None as NULL: the field count and the leading
    fixed-width fields in one ``struct`` call, then the other fields one by one.
    """

    def __init__(self, table: str, columns: Sequence[tuple[str, str]]):
        self.sql = f"COPY {table} ({', '.join(name for name, _ in columns)}) FROM STDIN (FORMAT BINARY)"
        self.types = [kind for _, kind in columns]
        self._fields = [_field(kind) for kind in self.types]
        self._count = len(self.types).to_bytes(2, "big")
        eight_bytes = all(kind in _FIXED and _FIXED[kind][1] == 8 for kind in self.types)
        self._pack = (
            struct.Struct("!h" + "".join("i" + _FIXED[kind][0] for kind in self.types)).pack if eight_bytes else None
        )
        fixed = 0
        while fixed < len(self.types) and self.types[fixed] in _FIXED:
            fixed += 1
        self._head_width = fixed
        self._head_pack = struct.Struct("!h" + "".join("i" + _FIXED[kind][0] for kind in self.types[:fixed])).pack
        # the head's arguments: the field count, then each field's length before its value (filled per row)
        self._head_args = [len(self.types), *[x for kind in self.types[:fixed] for x in (_FIXED[kind][1], 0)]]
        self._tail = self._fields[fixed:]

    def rows(self, *columns: Iterable) -> list[bytes]:
        """The encoded rows of the columns, side by side (two or three columns of 8-byte kinds, no NULLs)."""
        return self.rows_of(zip(*columns, strict=True))

    def rows_of(self, tuples: Iterable[tuple]) -> list[bytes]:
        """The encoded rows of row tuples (two or three values of 8-byte kinds, no NULLs)."""
        pack = self._pack
        if pack is None or len(self.types) not in (2, 3):
            raise ValueError("rows of two or three columns of int8, float8 or timestamptz only")
        if len(self.types) == 2:
            return [pack(2, 8, a, 8, b) for a, b in tuples]
        return [pack(3, 8, a, 8, b, 8, c) for a, b, c in tuples]

    def row(self, *values: Any) -> bytes:
        """One encoded row of any of the kinds; None is NULL."""
        if len(values) != len(self._fields):
            raise ValueError(f"{len(self._fields)} values expected, got {len(values)}")
        if None in values:
            fields = [_NULL if v is None else encode(v) for encode, v in zip(self._fields, values, strict=True)]
            return b"".join([self._count, *fields])
        width = self._head_width
        head = self._head_args.copy()
        head[2::2] = values[:width]
        return b"".join(
            [self._head_pack(*head), *[encode(v) for encode, v in zip(self._tail, values[width:], strict=True)]]
        )

    @staticmethod
    def encode(rows: list[bytes]) -> bytes:
        """The whole COPY stream: signature, rows, trailer."""
        return b"".join([SIGNATURE, *rows, TRAILER])

    def write(self, cursor, rows: list[bytes]) -> None:
        """COPY the rows on a psycopg cursor (in the caller's transaction)."""
        with cursor.copy(self.sql) as copy:
            copy.write(self.encode(rows))


# narrow sample rows, as the benchmarks load them (ingest itself sends arrays: monitoring/pgarrays.py)
SAMPLES = BinaryCopy("monitoring_sample", [("series_id", "int8"), ("ts", "timestamptz"), ("value", "float8")])
