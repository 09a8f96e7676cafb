from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self) -> None:
        """Connect the receivers of alerts/signals.py: notifications, the live stream, automatic analysis."""
        from alerts import frames, notify
        from alerts.analysis import triggers

        notify.connect()
        frames.connect_alert_signals()
        triggers.connect()
