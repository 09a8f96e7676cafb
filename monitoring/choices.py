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
            return cls.INFO.value  # a plain str: a live frame's JSON (orjson) refuses an enum as a dict key
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


class LogCategory(models.TextChoices):
    """What a log template is about, as the log classifier (Groq or the rules) answers it."""

    EXCEPTION = "exception", "Exception"
    TIMEOUT = "timeout", "Timeout"
    DATABASE = "database", "Database"
    NETWORK = "network", "Network"
    AUTHENTICATION = "authentication", "Authentication"
    RESOURCE = "resource", "Resource"
    CONFIGURATION = "configuration", "Configuration"
    APPLICATION = "application", "Application"
    OTHER = "other", "Other"


class LogSeverity(models.TextChoices):
    """How bad a log template is, as the log classifier answers it; ranked, worst last."""

    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"
    CRITICAL = "critical", "Critical"

    @property
    def colour(self) -> str:
        return {"info": "blue", "warning": "orange", "error": "red", "critical": "purple"}[self.value]

    @property
    def rank(self) -> int:
        return list(LogSeverity).index(self)


class ClassifiedBy(models.TextChoices):
    GROQ = "groq", "Groq"
    RULES = "rules", "Rules"
