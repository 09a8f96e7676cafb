"""WebSocket routes (Channels): who may connect, from where, to what."""

from __future__ import annotations

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.urls import path

from monitoring import consumers

websocket_urlpatterns: list = [
    path("api/v1/stream", consumers.MetricStreamConsumer.as_asgi()),
    path("ws/metrics", consumers.MetricStreamConsumer.as_asgi()),
    path("api/ws/live", consumers.LiveConsumer.as_asgi()),
    path("api/ws/health", consumers.HealthConsumer.as_asgi()),
    path("api/ws/logs/<str:service_name>", consumers.ServiceLogsConsumer.as_asgi()),
]


class ConsoleOriginValidator(OriginValidator):
    """Browsers must come from one of our hosts (ALLOWED_HOSTS), WS_ALLOWED_ORIGINS or CORS_ALLOWED_ORIGINS.

    The seeds' frontends that may call the REST API (CORS_ALLOWED_ORIGINS) may open
    the streams too; "*" there (any origin, DEBUG only) holds here as well.

    A client that sends no Origin is not a browser (agents, scripts, wscat): a
    cross-site page cannot omit it, so it is let through to authentication.
    """

    def __init__(self, application):
        super().__init__(application, [])

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        allowed = list(settings.ALLOWED_HOSTS) + list(settings.WS_ALLOWED_ORIGINS) + list(settings.CORS_ALLOWED_ORIGINS)
        if settings.CORS_ALLOW_ALL_ORIGINS:
            allowed.append("*")
        if settings.DEBUG and not settings.ALLOWED_HOSTS:
            allowed += ["localhost", "127.0.0.1", "[::1]"]
        return any(pattern == "*" or self.match_allowed_origin(parsed_origin, pattern) for pattern in allowed)


def websocket_application(url_router, patterns: list):
    """The WebSocket side of the ASGI app: origin check, session or token, then the routes."""
    return ConsoleOriginValidator(AuthMiddlewareStack(url_router(patterns)))
