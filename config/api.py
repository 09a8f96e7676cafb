"""API error shapes shared by every app."""

from __future__ import annotations

from django.db import DatabaseError, InterfaceError, OperationalError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import BadInput, Unavailable


def exception_handler(exc, context):
    """DRF's handler, plus: a database that is down is a 503 with Retry-After, never a 500."""
    response = drf_exception_handler(exc, context)
    if response is not None:
        return response
    if isinstance(exc, BadInput):  # e.g. a value PostgreSQL refused, named by the write path
        return Response({"detail": str(exc), "errors": [exc.as_dict()]}, status=status.HTTP_400_BAD_REQUEST)
    if (
        isinstance(exc, Unavailable)
        or isinstance(exc, (OperationalError, InterfaceError))
        or type(exc) is DatabaseError
    ):
        return Response(
            {"detail": "storage is unavailable, retry later"},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(getattr(exc, "retry_after", Unavailable.retry_after))},
        )
    return None
