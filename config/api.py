"""API error shapes shared by every app: ``{"detail", "errors": [{"field", "message"}]}``.

Every 4xx and 503 the API answers has a ``detail`` a person can read and an
``errors`` list naming each offending field (a path such as ``metrics[3].value``;
empty when no one field is at fault). A validation error also keeps DRF's
field-keyed body beside them (``{"hostname": ["..."]}``), which existing
clients read.
"""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError, DataError, InterfaceError, OperationalError
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import BadInput, Unavailable, error_body, field_errors
from config.web_database import is_statement_timeout, timeout_detail


def exception_handler(exc, context):
    """DRF's handler in the one error shape, plus: a database that is down is a 503 with Retry-After, never a 500."""
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = _shaped(exc, response.data)
        return response
    if is_statement_timeout(exc):
        return Response({"detail": timeout_detail()}, status=503, headers={"Retry-After": "10"})
    if isinstance(exc, BadInput):  # e.g. a value PostgreSQL refused, named by the write path
        return Response(error_body(str(exc), [exc.as_dict()]), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DataError):  # a value the database cannot hold (a NUL in text, a number out of range)
        reason = str(exc).splitlines()[0] if str(exc) else "invalid value"
        return Response(error_body(f"a value the database cannot hold: {reason}"), status=status.HTTP_400_BAD_REQUEST)
    if (
        isinstance(exc, Unavailable)
        or isinstance(exc, (OperationalError, InterfaceError))
        or type(exc) is DatabaseError
    ):
        return Response(
            error_body("storage is unavailable, retry later"),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(getattr(exc, "retry_after", Unavailable.retry_after))},
        )
    return None


def _shaped(exc: Exception, data: Any) -> dict[str, Any]:
    if isinstance(exc, ValidationError):
        errors = field_errors(data)
        first = errors[0] if errors else {"field": "", "message": "invalid input"}
        detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        keep = data if isinstance(data, dict) else {}
        return error_body(f"invalid payload: {detail}", errors, **{k: v for k, v in keep.items() if k != "detail"})
    if isinstance(data, dict):
        extra = {k: v for k, v in data.items() if k not in ("detail", "errors")}
        return error_body(str(data.get("detail", "")), data.get("errors"), **extra)
    return error_body(str(data))
