"""The alerts app's WebSocket routes (joined with the others in config/asgi.py)."""

from django.urls import path

from alerts import consumers

websocket_urlpatterns: list = [
    path("api/ws/alerts", consumers.AlertsConsumer.as_asgi()),
]
