"""Kinds and states of the alerts app, each with the colour the pages use (NetBox-style)."""

from django.db import models


class RuleKind(models.TextChoices):
    THRESHOLD = "threshold", "Threshold on a metric"
    ABSENCE = "absence", "No data / no contact"
    LOG_ERROR_RATE = "log_error_rate", "Log error rate"
    LOG_PATTERN = "log_pattern", "Log pattern"
    ANOMALY = "anomaly", "Anomaly (z-score)"
    EVENT_STATUS = "event_status", "Event status"
    LOG_ABSENCE = "log_absence", "No logs from a registered service"
    CONSOLE = "console", "The console itself"


class Severity(models.TextChoices):
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"

    @property
    def colour(self) -> str:
        return {"warning": "orange", "critical": "red"}[self.value]


class AlertState(models.TextChoices):
    PENDING = "pending", "Pending"
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"

    @property
    def colour(self) -> str:
        return {"pending": "yellow", "firing": "red", "resolved": "green"}[self.value]


OPEN_STATES = (AlertState.PENDING, AlertState.FIRING)


class Scope(models.TextChoices):
    ALL = "all", "All servers"
    SERVER = "server", "One server"
    LABELS = "labels", "Servers matching labels"


class Comparison(models.TextChoices):
    GT = "gt", ">"
    GTE = "gte", ">="
    LT = "lt", "<"
    LTE = "lte", "<="
    EQ = "eq", "=="
    NE = "ne", "!="

    def holds(self, value: float, threshold: float) -> bool:
        return {
            "gt": value > threshold,
            "gte": value >= threshold,
            "lt": value < threshold,
            "lte": value <= threshold,
            "eq": value == threshold,
            "ne": value != threshold,
        }[self.value]


class Aggregate(models.TextChoices):
    AVG = "avg", "Average"
    MIN = "min", "Minimum"
    MAX = "max", "Maximum"
    SUM = "sum", "Sum"
    COUNT = "count", "Count"
    LAST = "last", "Last value"


class ChannelKind(models.TextChoices):
    EMAIL = "email", "Email"
    SLACK = "slack", "Slack incoming webhook"
    WEBHOOK = "webhook", "Webhook (signed JSON)"


class MessageKind(models.TextChoices):
    FIRING = "firing", "Firing"
    REMINDER = "reminder", "Reminder"
    RESOLVED = "resolved", "Resolved"
    ESCALATION = "escalation", "Escalation"
    DIGEST = "digest", "Digest"
    TEST = "test", "Test"


class DeliveryStatus(models.TextChoices):
    SENT = "sent", "Sent"
    RETRYING = "retrying", "Failed, will retry"
    FAILED = "failed", "Failed, gave up"

    @property
    def colour(self) -> str:
        return {"sent": "green", "retrying": "orange", "failed": "red"}[self.value]


class NotificationLevel(models.TextChoices):
    """Seed 004's in-console notification types."""

    INFO = "info", "Info"
    SUCCESS = "success", "Success"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"
    CRITICAL = "critical", "Critical"

    @property
    def colour(self) -> str:
        return {"info": "blue", "success": "green", "warning": "orange", "error": "red", "critical": "purple"}[
            self.value
        ]


# messages that count against a rule's hourly budget (an escalation is never held back by it)
PAGE_KINDS = (MessageKind.FIRING, MessageKind.REMINDER)


class PageOutcome(models.TextChoices):
    """What became of one message about an alert (docs: "Less noise")."""

    SENT = "sent", "Sent"
    SUPPRESSED = "suppressed", "Suppressed by its root cause"
    FOLDED = "folded", "Folded into the hour's digest"

    @property
    def colour(self) -> str:
        return {"sent": "green", "suppressed": "grey", "folded": "orange"}[self.value]


class LinkAction(models.TextChoices):
    ACKNOWLEDGE = "acknowledge", "Acknowledge"
    SILENCE = "silence", "Silence 1 h"


# the checks of the console watching itself (rules of kind "console", by metric_name)
class ConsoleCheck(models.TextChoices):
    INGEST_LAG = "ingest_lag_seconds", "Ingest-to-stored lag"
    ROUND_AGE = "evaluation_round_age_seconds", "Age of the last evaluation round"


# an analysis: its state and what asked for it
class AnalysisStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"

    @property
    def colour(self) -> str:
        return {"pending": "grey", "running": "blue", "done": "green", "failed": "red"}[self.value]


class AnalysisTrigger(models.TextChoices):
    API = "api", "API (seed 003)"
    INSIGHTS = "insights", "Insights (seed 004)"
    ALERT_PAGE = "alert_page", "Alert page"
    ADMIN = "admin", "Admin action"
    ALERT_FIRED = "alert_fired", "Critical alert fired"
