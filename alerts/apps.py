from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self) -> None:
        """Connect the receivers of alerts/signals.py (notifications, the live stream, automatic analysis,
        seed 002's alert records); offer the alerts' self-metrics."""
        from alerts import frames, health, notify, seed002
        from alerts.analysis import triggers
        from monitoring import selfmetrics

        notify.connect()
        frames.connect_alert_signals()
        triggers.connect()
        seed002.connect()
        selfmetrics.register(health.metric_families)
