from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "config"
    label = "console"
    verbose_name = "Console"
