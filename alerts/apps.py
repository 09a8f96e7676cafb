from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self) -> None:
        from alerts import health, seed002, timeline
        from monitoring import selfmetrics
        from monitoring import timeline as host_timeline

        # notifications are queued by alerts.paging in the alert's own transaction (no signal receiver)
        seed002.connect()
        selfmetrics.register(health.metric_families)
        host_timeline.register("alerts", timeline.items)
