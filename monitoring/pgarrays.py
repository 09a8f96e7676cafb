"""Whole arrays as binary query parameters: a request's samples go to PostgreSQL in one statement.

psycopg adapts a list of a thousand datetimes or floats value by value; these
wrappers carry an array already encoded by numpy in PostgreSQL's binary array
format (dimensions, a no-nulls flag, the element type, length and lower bound
1, then each element as its length and big-endian value), so a parameter costs
one ``tobytes``. Register the dumpers on a connection (``register``) and pass the
wrappers with ``%b`` (or ``%(name)b``) placeholders. monitoring/tests/test_pgarrays.py
reads them back through PostgreSQL.
"""

from __future__ import annotations

import struct
import weakref

import numpy as np
from psycopg.adapt import Dumper
from psycopg.pq import Format

_HEADER = struct.Struct("!5i")  # dimensions 1, no nulls, element type, length, lower bound
_EMPTY = struct.Struct("!3i")  # dimensions 0, no nulls, element type


class BinaryArray:
    """A one-dimensional array of fixed-width values, encoded once."""

    __slots__ = ("data",)
    oid = 0  # the array type
    element = 0  # its element type
    dtype = ""  # the element's big-endian numpy type

    def __init__(self, values):
        values = np.asarray(values)
        if not len(values):
            self.data = _EMPTY.pack(0, 0, self.element)
            return
        width = np.dtype(self.dtype).itemsize
        body = np.empty(len(values), dtype=[("length", ">i4"), ("value", self.dtype)])
        body["length"] = width
        body["value"] = values
        self.data = _HEADER.pack(1, 0, self.element, len(values), 1) + body.tobytes()


class Int4Array(BinaryArray):
    __slots__ = ()
    oid, element, dtype = 1007, 23, ">i4"


class Int8Array(BinaryArray):
    __slots__ = ()
    oid, element, dtype = 1016, 20, ">i8"


class Float8Array(BinaryArray):
    __slots__ = ()
    oid, element, dtype = 1022, 701, ">f8"


class TimestamptzArray(BinaryArray):
    """Times given as PostgreSQL's wire microseconds (``pgcopy.pg_microseconds``)."""

    __slots__ = ()
    oid, element, dtype = 1185, 1184, ">i8"


class _ArrayDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: BinaryArray) -> bytes:
        return obj.data


_DUMPERS = {
    kind: type(f"{kind.__name__}Dumper", (_ArrayDumper,), {"oid": kind.oid})
    for kind in (Int4Array, Int8Array, Float8Array, TimestamptzArray)
}


_registered: weakref.WeakSet = weakref.WeakSet()


def register(conn) -> None:
    """Let the cursors of ``conn`` (a psycopg connection) that bind parameters on the server send these arrays."""
    if conn in _registered:  # once a connection: a cursor's own registry would copy the connection's each time
        return
    for kind, dumper in _DUMPERS.items():
        conn.adapters.register_dumper(kind, dumper)
    _registered.add(conn)
