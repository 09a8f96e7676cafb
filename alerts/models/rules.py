"""Alert rules: what to watch, for which servers, and when it becomes an alert; label matchers."""

from __future__ import annotations

import hashlib

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DataError, connection, models, transaction

from alerts.choices import Aggregate, Comparison, ConsoleCheck, RuleKind, Scope, Severity
from servers.models import Server


def matches(matchers: dict, labels: dict) -> bool:
    """Every matcher holds: an exact value, or ``!value`` for "not this", or ``*`` for "present"."""
    for key, wanted in (matchers or {}).items():
        have = labels.get(key)
        wanted = str(wanted)
        if wanted == "*":
            if have is None:
                return False
        elif wanted.startswith("!"):
            if have is not None and str(have) == wanted[1:]:
                return False
        elif have is None or str(have) != wanted:
            return False
    return True


class AlertRule(models.Model):
    """What to watch, for which servers, and when it becomes an alert."""

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=RuleKind.choices, default=RuleKind.THRESHOLD)
    enabled = models.BooleanField(default=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    # built-in rules carry a key (e.g. "cpu") and follow settings; user rules leave it empty
    builtin = models.CharField(max_length=32, null=True, blank=True, unique=True, editable=False)

    # metric selector (threshold, absence, anomaly)
    metric_type = models.CharField(max_length=128, blank=True)
    metric_name = models.CharField(max_length=255, blank=True)
    metric_labels = models.JSONField(default=dict, blank=True, help_text="series labels that must match exactly")
    aggregate = models.CharField(max_length=8, choices=Aggregate.choices, default=Aggregate.AVG)

    # condition
    comparison = models.CharField(max_length=4, choices=Comparison.choices, default=Comparison.GT)
    threshold = models.FloatField(default=0, help_text="value, percent (error rate), count or z-score")
    recovery_threshold = models.FloatField(
        null=True, blank=True, help_text="a firing alert resolves only once the value is past this (hysteresis)"
    )
    window_seconds = models.PositiveIntegerField(default=60, help_text="look-back window; for absence: silence")
    # None when created: filled from ALERT_DEFAULT_FOR_SECONDS for metric and rate rules (save)
    for_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="how long the condition holds before firing (empty: the default)"
    )
    trailing_seconds = models.PositiveIntegerField(default=3600, help_text="anomaly: the baseline before the window")

    # logs and events
    service = models.CharField(max_length=255, blank=True, help_text="log service or event source; empty for any")
    pattern = models.CharField(max_length=500, blank=True, help_text="log pattern: case-insensitive regex")
    log_level = models.CharField(max_length=16, blank=True, help_text="log pattern: only lines of this level")
    event_status = models.CharField(max_length=16, blank=True, default="CRITICAL")

    # scope
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.ALL)
    server = models.ForeignKey(Server, null=True, blank=True, on_delete=models.CASCADE, related_name="alert_rules")
    server_labels = models.JSONField(default=dict, blank=True, help_text="scope labels: server labels to match")

    # what the alert says: {server}, {value}, {threshold}, {rule}, {severity} and group labels are available
    labels = models.JSONField(default=dict, blank=True)
    summary = models.CharField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    runbook_url = models.CharField(max_length=500, blank=True)
    policy = models.ForeignKey(
        "alerts.NotificationPolicy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rules",
        help_text="repeat and escalation; empty: the default policy",
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """What each kind needs; the log pattern is compiled by PostgreSQL, which will run it."""
        errors: dict[str, str] = {}
        metric_kinds = (RuleKind.THRESHOLD, RuleKind.ANOMALY)
        if self.kind in metric_kinds and not (self.metric_type and self.metric_name):
            errors["metric_name"] = "a metric rule needs metric_type and metric_name"
        if self.kind == RuleKind.ABSENCE and bool(self.metric_type) != bool(self.metric_name):
            errors["metric_name"] = "give both metric_type and metric_name, or neither (no contact)"
        if self.kind == RuleKind.LOG_PATTERN:
            if not self.pattern and not self.log_level:
                errors["pattern"] = "a log pattern rule needs a pattern or a log level"
            elif self.pattern and not _valid_regex(self.pattern):
                errors["pattern"] = "not a valid regular expression"
        if self.scope == Scope.SERVER and not self.server_id:
            errors["server"] = "scope 'server' needs a server"
        if self.scope == Scope.LABELS and not self.server_labels:
            errors["server_labels"] = "scope 'labels' needs server labels"
        if self.window_seconds < 1:
            errors["window_seconds"] = "must be at least 1 second"
        for name in ("metric_labels", "server_labels", "labels"):
            value = getattr(self, name)
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                errors[name] = "an object of string values"
        if self.kind == RuleKind.CONSOLE and self.metric_name not in ConsoleCheck.values:
            errors["metric_name"] = "one of " + ", ".join(ConsoleCheck.values)
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs) -> None:
        if self.for_seconds is None or (self._state.adding and self.recovery_threshold is None):
            self.apply_defaults()
        super().save(*args, **kwargs)

    def apply_defaults(self) -> None:
        """Noise-safe defaults of a new rule: a `for` duration and a recovery threshold, unless set.

        Only for rules that compare a level that can bounce (metric thresholds, anomalies, error
        rates); absences, patterns and events fire at once. The recovery threshold sits
        ALERT_DEFAULT_RECOVERY_PERCENT of the threshold on the safe side of it (fire above 90,
        resolve below 81).
        """
        levelled = self.kind in (RuleKind.THRESHOLD, RuleKind.ANOMALY, RuleKind.LOG_ERROR_RATE)
        if self.for_seconds is None:
            self.for_seconds = settings.ALERT_DEFAULT_FOR_SECONDS if levelled else 0
        if self.recovery_threshold is None and levelled and self.threshold:
            margin = abs(self.threshold) * settings.ALERT_DEFAULT_RECOVERY_PERCENT / 100
            if self.comparison in (Comparison.GT, Comparison.GTE):
                self.recovery_threshold = self.threshold - margin
            elif self.comparison in (Comparison.LT, Comparison.LTE):
                self.recovery_threshold = self.threshold + margin

    @property
    def is_host_down(self) -> bool:
        """A no-contact rule: its alert says the whole host is down (the root cause of its other alerts)."""
        return self.kind == RuleKind.ABSENCE and not self.metric_name

    @property
    def watches_metrics(self) -> bool:
        return self.kind in (RuleKind.THRESHOLD, RuleKind.ANOMALY) or (
            self.kind == RuleKind.ABSENCE and bool(self.metric_name)
        )

    def violates(self, value: float | None, *, firing: bool = False) -> bool:
        """Whether a value breaks the rule; a firing alert keeps firing until past the recovery value."""
        if self.kind in (RuleKind.ABSENCE, RuleKind.LOG_ABSENCE):
            # value: seconds since last heard within the window; None: not heard within it
            return value is None or value > self.window_seconds
        if value is None:
            return False
        comparison = Comparison(self.comparison)
        if firing and self.recovery_threshold is not None:
            return comparison.holds(value, self.recovery_threshold)
        return comparison.holds(value, self.threshold)

    def fingerprint(self, server_id, group: dict) -> str:
        key = orjson.dumps([self.pk, str(server_id or ""), group], option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(key).hexdigest()

    def render(self, text: str, context: dict) -> str:
        """A template like "CPU {value:.1f}% on {server}"; unknown names are left as written."""
        if not text:
            return ""
        try:
            return text.format_map(_Lenient(context))
        except (ValueError, IndexError, TypeError):
            return text


def _valid_regex(pattern: str) -> bool:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT '' ~* %s", [pattern])
    except DataError:
        return False
    return True


class _Lenient(dict):
    def __missing__(self, key):
        return "{" + key + "}"
