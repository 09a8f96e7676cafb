"""The alerts WebSocket: WS /api/ws/alerts starts subscribed to alert_triggered frames (alerts/frames.py)."""

from __future__ import annotations

from monitoring.consumers import LiveConsumer, Subscription


class AlertsConsumer(LiveConsumer):
    def initial_subscriptions(self, query: dict[str, str]) -> list[Subscription]:
        return [Subscription("alerts")]
