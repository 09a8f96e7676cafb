from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring data"

    def ready(self):
        import orjson
        from psycopg.types.json import set_json_dumps

        # jsonb columns are written with orjson: several times faster than the stdlib
        set_json_dumps(orjson.dumps)

        from monitoring import selfmetrics
        from monitoring.live import publisher

        selfmetrics.register(publisher.metric_families)  # the live frames this process sent and dropped

        from monitoring.api import schema  # noqa: F401  (registers the agents' OpenAPI auth scheme)
