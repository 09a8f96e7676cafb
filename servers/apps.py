from django.apps import AppConfig


class ServersConfig(AppConfig):
    name = "servers"
    verbose_name = "Inventory"

    def ready(self) -> None:
        from servers import schema  # noqa: F401  (registers the OpenAPI auth schemes)
