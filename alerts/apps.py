from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self) -> None:
        from alerts import health, notify
        from monitoring import selfmetrics

        notify.connect()
        selfmetrics.register(health.metric_families)
