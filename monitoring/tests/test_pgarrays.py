"""Arrays sent as pre-encoded binary parameters read back through PostgreSQL as the values sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection

from monitoring import pgarrays
from monitoring.pgarrays import Float8Array, Int4Array, Int8Array, TimestamptzArray
from monitoring.pgcopy import pg_microseconds

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 10, 15, 30, 123456, tzinfo=UTC)


def select(sql: str, *arrays) -> tuple:
    connection.ensure_connection()
    pgarrays.register(connection.connection)
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, arrays)
        return cursor.fetchone()


def test_arrays_read_back_as_the_values_sent():
    stamps = [NOW, NOW - timedelta(days=9000), NOW + timedelta(microseconds=1)]
    got = select(
        "SELECT %b, %b, %b, %b",
        Int8Array([2**62, -1, 0]),
        Float8Array([-0.0, 1e300, 42.5]),
        TimestamptzArray([pg_microseconds(ts) for ts in stamps]),
        Int4Array([1, 2**31 - 1]),
    )
    assert got == ([2**62, -1, 0], [-0.0, 1e300, 42.5], stamps, [1, 2**31 - 1])


def test_a_slice_of_a_sent_array_counts_from_one():
    stamps = [NOW + timedelta(seconds=10 * i) for i in range(5)]
    got = select(
        "SELECT (%b::timestamptz[])[2:4], array_lower((%b::float8[])[2:4], 1)",
        TimestamptzArray([pg_microseconds(ts) for ts in stamps]),
        Float8Array([1.0, 2.0, 3.0, 4.0, 5.0]),
    )
    assert got == (stamps[1:4], 1)


def test_empty_arrays_are_empty():
    assert select("SELECT %b, cardinality(%b)", Int8Array([]), TimestamptzArray([])) == ([], 0)
