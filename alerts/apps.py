from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self) -> None:
        from alerts import timeline
        from monitoring import timeline as host_timeline

        host_timeline.register("alerts", timeline.items)
