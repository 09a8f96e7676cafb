"""One binary COPY encoder for the hot tables: samples and the roll-ups' dirty marks.

psycopg's ``Copy.write_row`` adapts every value of every row and costs more
than the COPY itself; these tables have fixed-width columns only (int8,
float8, timestamptz), so a row is one ``struct.pack``: a field count, then per
field its length (8) and big-endian value. monitoring/tests/test_pgcopy.py
checks the bytes against psycopg's own ``write_row``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" * 2  # signature, flags, header extension length
TRAILER = b"\xff\xff"
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
PG_EPOCH_SECONDS = 946_684_800  # 2000-01-01 UTC, PostgreSQL's epoch, in Unix seconds
_MICROSECOND = timedelta(microseconds=1)
_CODES = {"int8": "q", "timestamptz": "q", "float8": "d"}


def pg_microseconds(ts: datetime) -> int:
    """A timestamptz on the wire: microseconds since 2000-01-01 UTC (an aware datetime)."""
    return (ts - PG_EPOCH) // _MICROSECOND


def pg_minute(minute: int) -> int:
    """A minute counted from the Unix epoch, as a timestamptz on the wire."""
    return (minute * 60 - PG_EPOCH_SECONDS) * 1_000_000


class BinaryCopy:
    """``COPY table (columns) FROM STDIN (FORMAT BINARY)`` of rows of int8, float8 and timestamptz.

    A timestamptz is given as ``pg_microseconds`` (callers convert each distinct time once).
    """

    def __init__(self, table: str, columns: Sequence[tuple[str, str]]):
        self.sql = f"COPY {table} ({', '.join(name for name, _ in columns)}) FROM STDIN (FORMAT BINARY)"
        self.types = [kind for _, kind in columns]
        self._pack = struct.Struct("!h" + "".join("i" + _CODES[kind] for kind in self.types)).pack
        if len(self.types) not in (2, 3):
            raise ValueError("rows of two or three columns")

    def rows(self, *columns: Iterable) -> list[bytes]:
        """The encoded rows of the columns, side by side."""
        pack = self._pack
        if len(columns) == 2:
            return [pack(2, 8, a, 8, b) for a, b in zip(*columns, strict=True)]
        return [pack(3, 8, a, 8, b, 8, c) for a, b, c in zip(*columns, strict=True)]

    @staticmethod
    def encode(rows: list[bytes]) -> bytes:
        """The whole COPY stream: signature, rows, trailer."""
        return b"".join([SIGNATURE, *rows, TRAILER])

    def write(self, cursor, rows: list[bytes]) -> None:
        """COPY the rows on a psycopg cursor (in the caller's transaction)."""
        with cursor.copy(self.sql) as copy:
            copy.write(self.encode(rows))
