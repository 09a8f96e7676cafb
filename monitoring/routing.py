"""WebSocket routes (Channels)."""

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator

websocket_urlpatterns: list = []


def websocket_application(url_router):
    return AllowedHostsOriginValidator(AuthMiddlewareStack(url_router(websocket_urlpatterns)))
