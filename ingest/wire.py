"""Reading values off the wire: JSON bodies, numbers, texts and timestamps, checked by hand.

The hot path validates with plain type checks over orjson-decoded data (no
serializer per sample, see DESIGN.md "The hot path's budget"). Every refusal is
a ``BadInput`` naming the field path, e.g. ``metrics[3].value``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import orjson
from django.conf import settings

from ingest.errors import BadInput
from monitoring import partitions
from monitoring.timestamps import EPOCH, BadTimestamp, iso, parse_timestamp


def decode(body: bytes) -> dict:
    """The JSON object a body holds; BadInput for anything else."""
    if not body:
        raise BadInput("", "empty body: send a JSON object")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        data = _lenient(body, exc)
    if type(data) is not dict:
        raise BadInput("", f"expected a JSON object, got {kind_of(data)}")
    return data


def _lenient(body: bytes, error: Exception):
    """On the error path only: the stdlib decoder reads NaN, Infinity and 1e999, so the
    adapter's checks can name the field that holds one; anything else is malformed."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise BadInput("", f"malformed JSON ({error})")


def kind_of(value) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), type(value).__name__
    )


def number(value, field: str) -> float:
    """A finite number (booleans are not numbers)."""
    kind = type(value)
    if kind is float:
        if value - value != 0.0:  # inf or nan, cheaper than math.isfinite on the hot path
            raise BadInput(field, "must be a finite number")
        return value
    if kind is int:
        try:
            return float(value)
        except OverflowError:  # an integer beyond any float (JSON allows any length)
            raise BadInput(field, "must be a finite number")
    raise BadInput(field, f"must be a number, got {kind_of(value)}")


def text(value, field: str, *, required: bool = True, limit: int = 255) -> str:
    """A string of at most ``limit`` characters; '' when absent and not required."""
    if value is None and not required:
        return ""
    if type(value) is not str:
        raise BadInput(field, f"must be a string, got {kind_of(value)}")
    if required and not value:
        raise BadInput(field, "must not be empty")
    if len(value) > limit:
        raise BadInput(field, f"longer than {limit} characters")
    return value


def obj(value, field: str, *, required: bool = False) -> dict:
    """A JSON object; {} when absent (null) and not required."""
    if value is None and not required:
        return {}
    if type(value) is not dict:
        raise BadInput(field, f"must be an object, got {kind_of(value)}")
    return value


def array(value, field: str, *, required: bool = False) -> list:
    """A JSON array; [] when absent (null) and not required."""
    if value is None and not required:
        return []
    if type(value) is not list:
        raise BadInput(field, f"must be an array, got {kind_of(value)}")
    return value


class Clock:
    """Parses timestamps for one request: memoized (agents repeat them), bounded in time.

    Accepts RFC 3339 / ISO 8601 text (naive means UTC) and epoch seconds (or
    milliseconds). Refuses times older than the raw retention window
    (RAW_RETENTION_DAYS) or more than INGEST_MAX_FUTURE_SECONDS ahead.
    """

    __slots__ = ("now", "latest", "earliest", "_seen")

    def __init__(self):
        self.now = datetime.now(UTC)
        self.latest = self.now + timedelta(seconds=settings.INGEST_MAX_FUTURE_SECONDS)
        self.earliest = max(EPOCH, partitions.oldest_writable(self.now))
        self._seen: dict = {}

    def at(self, value, field: str, *, default: datetime | None = None) -> datetime:
        if value is None:
            if default is None:
                raise BadInput(field, "required: a timestamp (RFC 3339 or epoch seconds)")
            return default
        kind = type(value)
        if kind is not str and kind is not int and kind is not float:
            return self._parse(value, field)  # refuses it
        found = self._seen.get(value)
        if found is None:
            found = self._seen[value] = self._parse(value, field)
        return found

    def _parse(self, value, field: str) -> datetime:
        kind = type(value)
        if kind is str or kind is int or kind is float:
            if kind is not str:
                number(value, field)  # a finite number, not a boolean
            try:
                ts = parse_timestamp(value)
            except BadTimestamp as exc:
                raise BadInput(field, str(exc))
        else:
            raise BadInput(field, f"must be a timestamp (RFC 3339 string or epoch number), got {kind_of(value)}")
        if ts > self.latest:
            raise BadInput(field, f"{iso(ts)} is more than {settings.INGEST_MAX_FUTURE_SECONDS} s in the future")
        if ts < self.earliest:
            if ts < EPOCH:
                raise BadInput(field, f"{iso(ts)} is before 1970")
            raise BadInput(field, partitions.retention_problem(ts))
        return ts  # in UTC (the shared parser's): PostgreSQL refuses offsets beyond ±15:59
