from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self) -> None:
        """Connect the receivers of alerts/signals.py (the live stream, automatic analysis, seed 002's alert
        records); offer the alerts' self-metrics and their part of a server's timeline. Notifications are
        queued by alerts.paging in the alert's own transaction, not by a receiver."""
        from alerts import frames, health, paging, seed002, timeline
        from alerts.analysis import triggers
        from monitoring import selfmetrics
        from monitoring import timeline as host_timeline

        paging.connect()
        frames.connect_alert_signals()
        triggers.connect()
        seed002.connect()
        selfmetrics.register(health.metric_families)
        host_timeline.register("alerts", timeline.items)
