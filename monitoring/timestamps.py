"""One way to read a timestamp and one way to write one, for every adapter and API.

Read: RFC 3339 / ISO 8601 text (``Z``, ``z`` or an offset; without one it is
UTC unless the caller requires a zone) or Unix epoch seconds, read as
milliseconds above ``EPOCH_MS_ABOVE``. The answer is always aware and in UTC.
A value that is not a time raises ``BadTimestamp`` with the reason; the caller
names the field (a 400 ``{"field", "message"}``) and applies its own bounds.

Write: ``iso(ts)``, RFC 3339 in UTC with ``Z`` (``2026-11-30T10:00:00.123456Z``),
the form DRF gives its own datetimes.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# An epoch number above this is in milliseconds (1e12 seconds is 31,000 years away).
EPOCH_MS_ABOVE = 1e12


class BadTimestamp(ValueError):
    """Why a value is not a timestamp (the message is for people)."""


def from_epoch(seconds: float) -> datetime:
    """Unix epoch seconds (milliseconds above ``EPOCH_MS_ABOVE``) as aware UTC."""
    if not math.isfinite(seconds):
        raise BadTimestamp("not a time")
    if abs(seconds) > EPOCH_MS_ABOVE:
        seconds /= 1000.0
    try:
        return EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        raise BadTimestamp("timestamp out of range")


def from_text(text: str, *, require_zone: bool = False) -> datetime:
    """RFC 3339 / ISO 8601 text as aware UTC; without a zone it is UTC, or refused when ``require_zone``."""
    if type(text) is not str:
        raise BadTimestamp("expected RFC 3339 / ISO 8601 text")
    try:
        ts = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise BadTimestamp(f"not an RFC 3339 / ISO 8601 time: {text[:40]!r}")
    if ts.tzinfo is None:
        if require_zone:
            raise BadTimestamp("a time zone is required (e.g. Z or +01:00)")
        return ts.replace(tzinfo=UTC)
    try:
        return ts if ts.tzinfo is UTC else ts.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+05:00 is before year 1 in UTC
        raise BadTimestamp(f"out of range: {text[:40]!r}")


def parse_timestamp(value: object, *, numbers_in_text: bool = False, require_zone: bool = False) -> datetime:
    """A timestamp from JSON (text or a number), or from a query parameter (``numbers_in_text``: "1732096800")."""
    kind = type(value)
    if kind is int or kind is float:
        try:
            seconds = float(value)  # type: ignore[arg-type]
        except OverflowError:  # an integer beyond any float
            raise BadTimestamp("timestamp out of range")
        return from_epoch(seconds)
    if kind is str:
        if numbers_in_text:
            try:
                seconds = float(value)  # type: ignore[arg-type]
            except (ValueError, OverflowError):
                pass
            else:
                return from_epoch(seconds)
        return from_text(value, require_zone=require_zone)  # type: ignore[arg-type]
    raise BadTimestamp("expected a timestamp: RFC 3339 text or epoch seconds")


def iso(ts: datetime) -> str:
    """RFC 3339 in UTC with ``Z``."""
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def iso_or_none(ts: datetime | None) -> str | None:
    return iso(ts) if ts is not None else None
