"""Levels and verdicts shared by the store, the API and the pages, each with its colour."""

from django.db import models


class LogLevel(models.TextChoices):
    DEBUG = "DEBUG", "Debug"
    INFO = "INFO", "Info"
    WARNING = "WARNING", "Warning"
    ERROR = "ERROR", "Error"
    CRITICAL = "CRITICAL", "Critical"

    @property
    def colour(self) -> str:
        return {"DEBUG": "grey", "INFO": "blue", "WARNING": "orange", "ERROR": "red", "CRITICAL": "purple"}[self.value]

    @classmethod
    def normalize(cls, raw) -> str | None:
        """A level as agents spell it (warn, err, fatal, 30…) in our vocabulary, or None."""
        if raw is None:
            return cls.INFO
        value = str(raw).strip().upper()
        return _LEVEL_ALIASES.get(value)


_LEVEL_ALIASES = {
    "TRACE": "DEBUG",
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "INFORMATION": "INFO",
    "NOTICE": "INFO",
    "": "INFO",
    "WARN": "WARNING",
    "WARNING": "WARNING",
    "ERR": "ERROR",
    "ERROR": "ERROR",
    "CRIT": "CRITICAL",
    "CRITICAL": "CRITICAL",
    "FATAL": "CRITICAL",
    "ALERT": "CRITICAL",
    "EMERG": "CRITICAL",
    "EMERGENCY": "CRITICAL",
    "PANIC": "CRITICAL",
}


class EventStatus(models.TextChoices):
    NORMAL = "NORMAL", "Normal"
    WARNING = "WARNING", "Warning"
    CRITICAL = "CRITICAL", "Critical"

    @property
    def colour(self) -> str:
        return {"NORMAL": "green", "WARNING": "orange", "CRITICAL": "red"}[self.value]


class Decision(models.TextChoices):
    CONTINUE = "CONTINUE"
    RETRY = "RETRY"
    REPROCESS = "REPROCESS"
    ESCALATE = "ESCALATE"
    HALT = "HALT"

    @property
    def colour(self) -> str:
        return {"CONTINUE": "green", "RETRY": "orange", "REPROCESS": "orange", "ESCALATE": "red", "HALT": "red"}[
            self.value
        ]


class ServiceState(models.TextChoices):
    """A log-shipping service's health (monitoring/service_health.py)."""

    HEALTHY = "healthy", "Healthy"
    UNHEALTHY = "unhealthy", "Unhealthy"
    SILENT = "silent", "Silent"

    @property
    def colour(self) -> str:
        return {"healthy": "green", "unhealthy": "red", "silent": "orange"}[self.value]
