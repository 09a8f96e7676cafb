"""Reading API parameters (query strings and JSON bodies); BadInput names the parameter at fault."""

from __future__ import annotations

from datetime import datetime

from rest_framework.response import Response

from config.errors import BadInput, error_body
from monitoring.timestamps import BadTimestamp, from_text


def bad_request(exc: BadInput) -> Response:
    return Response(error_body(f"invalid payload: {exc}", [exc.as_dict()]), status=400)


def text(payload: dict, name: str, *, required: bool, max_length: int) -> str | None:
    value = payload.get(name)
    if value is None or value == "":
        if required:
            raise BadInput(name, "required: a non-empty string")
        return None
    if not isinstance(value, str):
        raise BadInput(name, "expected a string")
    if len(value) > max_length:
        raise BadInput(name, f"at most {max_length} characters")
    return value


def time(raw, name: str) -> datetime | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise BadInput(name, "expected an ISO 8601 time")
    try:
        return from_text(raw)
    except BadTimestamp as exc:
        raise BadInput(name, str(exc))


def integer(raw, name: str, *, default: int, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        raise BadInput(name, "expected an integer")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise BadInput(name, "expected an integer")
    if not low <= value <= high:
        raise BadInput(name, f"must be between {low} and {high}")
    return value
