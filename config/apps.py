from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "config"
    label = "console"
    verbose_name = "Console"

    def ready(self) -> None:
        from django.conf import settings

        from config import seed_variables

        seed_variables.report(settings.IGNORED_SEED_VARIABLES)
