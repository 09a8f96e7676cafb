"""The one error shape every app answers, ``{"detail", "errors": [{"field", "message"}]}``, and the
400 adapters raise at the edge (``BadInput``, with the path of the offending field).

Below every app (import-linter lets them all import it); config/api.py puts
DRF's errors in this shape.
"""

from __future__ import annotations

from typing import Any


class BadInput(Exception):
    """A 400: the body can never be stored as sent. ``field`` is the path, e.g. ``metrics[3].value``."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message

    def as_dict(self) -> dict:
        return {"field": self.field, "message": self.message}


class Unavailable(Exception):
    """A 503: a dependency (the database) cannot take the request now; nothing was stored.
    Answered with Retry-After, the one code every agent retries."""

    retry_after = 5


NON_FIELD = "non_field_errors"


def field_errors(data: Any, path: str = "") -> list[dict[str, str]]:
    """DRF's nested error detail as a flat list: ``{"metrics": [{"value": ["..."]}]}`` -> ``metrics[0].value``."""
    if isinstance(data, dict):
        found = []
        for key, value in data.items():
            name = "" if key == NON_FIELD else str(key)
            found += field_errors(value, f"{path}.{name}" if path and name else path or name)
        return found
    if isinstance(data, list):
        if all(not isinstance(item, dict | list) for item in data):
            return [{"field": path, "message": str(item)} for item in data]
        found = []
        for index, item in enumerate(data):
            found += field_errors(item, f"{path}[{index}]")
        return found
    return [{"field": path, "message": str(data)}]


def error_body(detail: str, errors: list[dict[str, str]] | None = None, **extra: Any) -> dict[str, Any]:
    """The one error shape."""
    return {**extra, "detail": detail, "errors": errors or []}


# the one error shape as an OpenAPI schema (config/openapi.py, ingest/openapi.py)
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}},
        },
    },
    "required": ["detail"],
    "additionalProperties": True,  # a validation error keeps DRF's field-keyed body beside them
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
