"""The web process's database connections: no persistent connections under ASGI, a statement timeout.

Under ASGI, Django serves each request's sync code in threads of its own, so a
connection kept with CONN_MAX_AGE > 0 belongs to a thread that may never serve
again: connections pile up. The web process (config/asgi.py) therefore runs with
CONN_MAX_AGE 0; the ingest fast path keeps its own threads' connections
(INGEST_CONN_MAX_AGE, ingest/fastpath.py). Workers and beat keep
DATABASE_CONN_MAX_AGE.

Every statement a web request runs is cut at WEB_STATEMENT_TIMEOUT_MS (a
connection startup option, so it costs no round trip): one slow query cannot
hold a connection and a thread for minutes. A request it cuts answers 503 with
Retry-After (config/api.py; StatementTimeout below for pages), never a 500.
Behind PgBouncer in transaction pooling, which drops or refuses startup options,
set it on the database role instead (``ALTER ROLE ... SET statement_timeout``)
and WEB_STATEMENT_TIMEOUT_MS=0.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import OperationalError, connections
from django.http import HttpRequest, HttpResponse, JsonResponse

QUERY_CANCELED = "57014"


def configure_web_connections() -> None:
    """Called once by config/asgi.py, before any request: this process serves the web."""
    for alias in connections:
        params = connections.settings[alias]
        params["CONN_MAX_AGE"] = 0
        timeout = settings.WEB_STATEMENT_TIMEOUT_MS
        if timeout > 0 and params.get("ENGINE", "").endswith("postgresql"):
            options = params.setdefault("OPTIONS", {})
            options["options"] = f"{options.get('options', '')} -c statement_timeout={int(timeout)}".strip()
        connections[alias].close()  # none should be open yet; if one is, it reopens with these settings
        connections[alias].settings_dict.update(params)


def is_statement_timeout(exc: BaseException) -> bool:
    cause = exc.__cause__ or exc
    return isinstance(exc, OperationalError) and getattr(cause, "sqlstate", None) == QUERY_CANCELED


def timeout_detail() -> str:
    return f"the request ran longer than WEB_STATEMENT_TIMEOUT_MS ({settings.WEB_STATEMENT_TIMEOUT_MS} ms); narrow it"


class StatementTimeout:
    """Middleware: a page or view cut by the statement timeout answers 503 with Retry-After."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_statement_timeout(exception):
            return None
        response = JsonResponse({"detail": timeout_detail()}, status=503)
        response["Retry-After"] = "10"
        return response
