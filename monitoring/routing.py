"""WebSocket routes (Channels): who may connect, from where, to what."""

from __future__ import annotations

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.urls import path

from monitoring import consumers
from monitoring.socket_limits import SendBacklog

websocket_urlpatterns: list = [
    path("api/v1/stream", consumers.MetricStreamConsumer.as_asgi()),
    path("ws/metrics", consumers.MetricStreamConsumer.as_asgi()),
    path("api/ws/live", consumers.LiveConsumer.as_asgi()),
    path("api/ws/health", consumers.HealthConsumer.as_asgi()),
    path("api/ws/logs/<str:service_name>", consumers.ServiceLogsConsumer.as_asgi()),
]


def allowed_origins() -> list[str]:
    """The one list a browser's Origin is checked against, for every stream: ALLOWED_HOSTS,
    CSRF_TRUSTED_ORIGINS, WS_ALLOWED_ORIGINS and CORS_ALLOWED_ORIGINS (the seeds' frontends).

    Never "*": a wildcard in any of them is ignored here. A page on any site could
    otherwise open a stream with its visitor's session cookie and read the fleet.
    """
    found = [
        *settings.ALLOWED_HOSTS,
        *settings.CSRF_TRUSTED_ORIGINS,
        *settings.WS_ALLOWED_ORIGINS,
        *settings.CORS_ALLOWED_ORIGINS,
    ]
    if settings.DEBUG and not settings.ALLOWED_HOSTS:
        found += ["localhost", "127.0.0.1", "[::1]"]
    return [origin for origin in found if origin.strip() not in ("*", "")]


class ConsoleOriginValidator(OriginValidator):
    """Browsers must come from an origin of ``allowed_origins()``.

    A client that sends no Origin is not a browser (agents, scripts, wscat): a
    cross-site page cannot omit it, so it is let through to authentication.
    """

    def __init__(self, application):
        super().__init__(application, [])

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        return any(self.match_allowed_origin(parsed_origin, pattern) for pattern in allowed_origins())


def websocket_application(url_router, patterns: list):
    """The WebSocket side of the ASGI app: send backlog reader, origin check, session or token, the routes."""
    return SendBacklog(ConsoleOriginValidator(AuthMiddlewareStack(url_router(patterns))))
