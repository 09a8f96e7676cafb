from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self) -> None:
        from alerts import health, notify, seed002
        from monitoring import selfmetrics

        notify.connect()
        seed002.connect()
        selfmetrics.register(health.metric_families)
