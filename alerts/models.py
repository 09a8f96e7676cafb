"""Alerting: rules, the alerts they raise, silences, channels, deliveries and in-console notifications.

An ``AlertRule`` is evaluated by Celery (alerts/evaluation.py), one set-based
query per rule for every server in scope. Each (rule, server, labels)
fingerprint has at most one open ``Alert`` (pending or firing), enforced by a
partial unique constraint; its life is pending -> firing -> resolved, each step
kept as an ``AlertTransition``. Silences and maintenance windows mute the
notifications, never the alert.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DataError, connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from alerts import signals
from alerts.choices import (
    OPEN_STATES,
    Aggregate,
    AlertState,
    ChannelKind,
    Comparison,
    DeliveryStatus,
    MessageKind,
    NotificationLevel,
    RuleKind,
    Scope,
    Severity,
)
from alerts.outbound import RefusedDestination, check_destination, masked_url
from servers.models import Server

log = logging.getLogger(__name__)

SEVERITY_RANK = {Severity.WARNING: 1, Severity.CRITICAL: 2}


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
    for_seconds = models.PositiveIntegerField(default=0, help_text="how long the condition holds before firing")
    trailing_seconds = models.PositiveIntegerField(default=3600, help_text="anomaly: the baseline before the window")

    # logs and events
    service = models.CharField(max_length=255, blank=True, help_text="log service or event source; empty for any")
    pattern = models.CharField(max_length=500, blank=True, help_text="log pattern: case-insensitive regex")
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
            if not self.pattern:
                errors["pattern"] = "a log pattern rule needs a pattern"
            elif not _valid_regex(self.pattern):
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
        if errors:
            raise ValidationError(errors)

    def violates(self, value: float | None, *, firing: bool = False) -> bool:
        """Whether a value breaks the rule; a firing alert keeps firing until past the recovery value."""
        if self.kind == RuleKind.ABSENCE:
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


class Alert(models.Model):
    """One (rule, server, labels) fingerprint from pending to resolved."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    server = models.ForeignKey(Server, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts")
    fingerprint = models.CharField(max_length=64, db_index=True)
    state = models.CharField(max_length=10, choices=AlertState.choices, default=AlertState.PENDING)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    labels = models.JSONField(default=dict, blank=True)
    summary = models.CharField(max_length=1000, blank=True)
    description = models.TextField(blank=True)
    runbook_url = models.CharField(max_length=500, blank=True)
    value = models.FloatField(null=True, blank=True, help_text="the latest value evaluated")
    trigger_value = models.FloatField(null=True, blank=True, help_text="the value when it fired")

    started_at = models.DateTimeField(default=timezone.now, help_text="when the condition first held")
    fired_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    cleared_at = models.DateTimeField(null=True, blank=True, help_text="condition gone, resolution held down")
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    last_notified_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    flapping = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["fingerprint"],
                condition=Q(state__in=[AlertState.PENDING, AlertState.FIRING]),
                name="alert_one_open_per_fingerprint",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "severity"]),
            models.Index(fields=["server", "state"]),
            models.Index(fields=["rule", "state"]),
            models.Index(fields=["-started_at"], name="alert_recent"),
        ]

    def __str__(self) -> str:
        return self.summary or f"{self.rule} on {self.server or 'fleet'}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    # --- lifecycle -----------------------------------------------------------
    def _transition(self, to: AlertState, value: float | None, now: datetime, note: str = "") -> None:
        AlertTransition.objects.create(alert=self, from_state=self.state, to_state=to, value=value, at=now, note=note)

    def opened(self) -> None:
        """Record the alert's first step (none -> pending) and tell the console."""
        AlertTransition.objects.create(
            alert=self, from_state="", to_state=self.state, value=self.value, at=self.started_at
        )
        self._announce(None)

    def fire(self, value: float | None = None, now: datetime | None = None) -> None:
        """pending -> firing; receivers of ``alert_fired`` (notifications, analysis, live) hear after commit."""
        if self.state != AlertState.PENDING:
            return
        now = now or timezone.now()
        self._transition(AlertState.FIRING, value, now)
        self.state, self.fired_at, self.trigger_value = AlertState.FIRING, now, value
        # the firing message is due now; reminders count REPEAT_INTERVAL from here
        self.last_notified_at = now
        if value is not None:
            self.value = value
        self.cleared_at = None
        self.flapping = self.recently_fired(now) >= settings.ALERT_FLAP_THRESHOLD
        with transaction.atomic():  # the message is owed exactly when the state change is stored
            self.save()
            PendingNotification.objects.create(alert=self, kind=MessageKind.FIRING, created_at=now)
        self._announce(signals.alert_fired)

    def resolve(self, value: float | None = None, now: datetime | None = None, note: str = "") -> None:
        """pending or firing -> resolved."""
        if not self.is_open:
            return
        now = now or timezone.now()
        was_firing = self.state == AlertState.FIRING
        self._transition(AlertState.RESOLVED, value, now, note)
        self.state, self.resolved_at, self.cleared_at = AlertState.RESOLVED, now, None
        if value is not None:
            self.value = value
        with transaction.atomic():
            self.save()
            if was_firing:
                PendingNotification.objects.create(alert=self, kind=MessageKind.RESOLVED, created_at=now)
        if was_firing:
            self._announce(signals.alert_resolved)
        else:
            self._announce(None)

    def clear(self, value: float | None, now: datetime) -> None:
        """The condition is gone: resolve now, or once it stays gone while the alert flaps."""
        if self.state == AlertState.PENDING or not self.flapping:
            self.resolve(value, now)
            return
        if self.cleared_at is None:
            self.cleared_at = now
            self.value = value
            self.save(update_fields=["cleared_at", "value"])
        elif now - self.cleared_at >= timedelta(seconds=settings.ALERT_FLAP_HOLD_SECONDS):
            self.resolve(value, now, note="held down while flapping")

    def acknowledge(self, user) -> bool:
        """Someone is on it: who and when; reminders stop. Answers whether anything changed."""
        if self.acknowledged_at is not None:
            return False
        self.acknowledged_at, self.acknowledged_by = timezone.now(), user
        self.save(update_fields=["acknowledged_at", "acknowledged_by"])
        AlertTransition.objects.create(
            alert=self,
            from_state=self.state,
            to_state=self.state,
            at=self.acknowledged_at,
            note=f"acknowledged by {user}",
        )
        self._announce(None)
        return True

    def recently_fired(self, now: datetime) -> int:
        """How many alerts of this fingerprint fired within the flap window (this one included)."""
        since = now - timedelta(seconds=settings.ALERT_FLAP_WINDOW_SECONDS)
        return Alert.objects.filter(fingerprint=self.fingerprint, fired_at__gte=since).exclude(pk=self.pk).count() + 1

    def _announce(self, signal) -> None:
        def send():
            # a failing receiver (live push, analysis) must not undo or stop evaluation
            for each in (signal, signals.alert_changed):
                if each is None:
                    continue
                for receiver, result in each.send_robust(sender=Alert, alert=self):
                    if isinstance(result, Exception):
                        log.error("alert signal receiver %r failed: %r", receiver, result, exc_info=result)

        transaction.on_commit(send)

    # --- what people see -----------------------------------------------------
    def muted_by(self, silences: list[Silence] | None = None, now: datetime | None = None) -> str:
        """Why notifications are held ("silence #3", "maintenance"), or "" when they go out."""
        now = now or timezone.now()
        if self.server_id and self.server.maintenance_until and self.server.maintenance_until > now:
            return f"maintenance of {self.server} until {self.server.maintenance_until:%Y-%m-%d %H:%M}"
        if silences is None:
            silences = list(Silence.objects.active(now))
        for silence in silences:
            if silence.mutes(self):
                return f"silence #{silence.pk}"
        return ""

    def as_dict(self) -> dict:
        """The alert as messages, webhooks and the seed APIs carry it."""
        return {
            "id": self.pk,
            "rule": self.rule.name,
            "rule_id": self.rule_id,
            "kind": self.rule.kind,
            "state": self.state,
            "severity": self.severity,
            "server": self.server.hostname if self.server_id else None,
            "server_id": str(self.server_id) if self.server_id else None,
            "labels": self.labels,
            "summary": self.summary,
            "description": self.description,
            "runbook_url": self.runbook_url,
            "value": self.value,
            "trigger_value": self.trigger_value,
            "threshold": self.rule.threshold,
            "fingerprint": self.fingerprint,
            "started_at": _iso(self.started_at),
            "fired_at": _iso(self.fired_at),
            "resolved_at": _iso(self.resolved_at),
            "acknowledged_at": _iso(self.acknowledged_at),
            "acknowledged_by": self.acknowledged_by.get_username() if self.acknowledged_by_id else None,
        }


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts else None


class AlertTransition(models.Model):
    """One step of an alert's history (and acknowledgements, as a step to the same state)."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(max_length=10, blank=True)
    to_state = models.CharField(max_length=10, choices=AlertState.choices)
    value = models.FloatField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_state or '∅'} -> {self.to_state} at {self.at:%H:%M:%S}"


class SilenceQuerySet(models.QuerySet):
    def active(self, now: datetime | None = None):
        now = now or timezone.now()
        return self.filter(starts_at__lte=now, ends_at__gt=now)


class Silence(models.Model):
    """Mutes notifications of alerts whose labels match, between two times; the alerts stay visible.

    Matchers are label -> value (``!value`` negates, ``*`` means present); an
    alert's labels include ``alertname``, ``severity``, ``server`` and its group labels.
    """

    matchers = models.JSONField(default=dict)
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField()
    comment = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SilenceQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at"]
        indexes = [models.Index(fields=["ends_at", "starts_at"])]

    def __str__(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.matchers.items()) or "everything"

    def mutes(self, alert: Alert) -> bool:
        return matches(self.matchers, alert.labels)

    @property
    def matches_everything(self) -> bool:
        """No matcher names a value (only ``!value`` negations and ``*`` wildcards): it would mute every alert."""
        return all(str(v) == "*" or str(v).startswith("!") for v in (self.matchers or {}).values())

    def check_allowed(self, author, *, match_all: bool = False) -> None:
        """What anyone may create: at most SILENCE_MAX_SECONDS long; one that mutes every alert only by staff
        who say so (``match_all``). Raises ValidationError naming the field."""
        errors: dict[str, str] = {}
        starts = self.starts_at or timezone.now()
        most = timedelta(seconds=settings.SILENCE_MAX_SECONDS)
        if self.ends_at and self.ends_at - starts > most:
            errors["ends_at"] = f"a silence lasts at most {most} (SILENCE_MAX_SECONDS)"
        if self.matches_everything:
            if not (author is not None and author.is_staff):
                errors["matchers"] = (
                    "these matchers (none, or only negations and wildcards) would silence every alert; "
                    "name a label value (only staff may silence everything)"
                )
            elif not match_all:
                errors["matchers"] = "these matchers would silence every alert: send match_all: true if you mean it"
        if errors:
            raise ValidationError(errors)

    def is_active(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.starts_at <= now < self.ends_at


class NotificationChannel(models.Model):
    """Where messages go: email, Slack or a signed webhook; routed by severity and labels.

    config: email {"to": [...]}; slack {"url": ...}; webhook {"url": ..., "secret": ...}.
    """

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=8, choices=ChannelKind.choices)
    enabled = models.BooleanField(default=True)
    config = models.JSONField(default=dict, blank=True)
    min_severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    label_matchers = models.JSONField(default=dict, blank=True, help_text="only alerts whose labels match")
    send_resolved = models.BooleanField(default=True)
    # channels from NOTIFY_* settings carry the setting's name and are kept in step with it
    provisioned = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def routes(self, alert: Alert, kind: str = MessageKind.FIRING) -> bool:
        """Whether this channel takes a message about the alert."""
        if not self.enabled:
            return False
        if kind == MessageKind.RESOLVED and not self.send_resolved:
            return False
        if SEVERITY_RANK[Severity(alert.severity)] < SEVERITY_RANK[Severity(self.min_severity)]:
            return False
        return matches(self.label_matchers, alert.labels)

    @property
    def target(self) -> str:
        """Where it goes, as people may see it: the addresses, or a URL's scheme and host only
        (a Slack or webhook URL's path is its credential)."""
        if self.kind == ChannelKind.EMAIL:
            return ", ".join(self.config.get("to", []))
        return masked_url(str(self.config.get("url", "")))

    def clean(self) -> None:
        """A Slack or webhook URL the console may send to (checked again, resolved, at each send)."""
        if self.kind in (ChannelKind.SLACK, ChannelKind.WEBHOOK):
            try:
                check_destination(str((self.config or {}).get("url", "")), resolve=False)
            except RefusedDestination as exc:
                raise ValidationError({"config": f"url: {exc}"}) from None


class PendingNotification(models.Model):
    """A message owed about an alert (firing, resolved, reminder): the notification outbox.

    Written in the transaction that changes the alert's state, so a message is owed exactly
    when the change is stored, whether or not Redis can take a task at that moment. The
    worker sends it right after commit when it can (``alerts.tasks.send_notifications``);
    a periodic sweep sends whatever is still owed. ``sent_at`` is set in the transaction that
    records the in-console notification and queues the deliveries: sent once.
    """

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="pending_notifications")
    kind = models.CharField(max_length=10, choices=MessageKind.choices)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["id"], name="alerts_pending_unsent", condition=Q(sent_at__isnull=True))]

    def __str__(self) -> str:
        return f"{self.kind} of {self.alert_id}: {'sent' if self.sent_at else 'owed'}"


class Delivery(models.Model):
    """One attempt to send one message through one channel."""

    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="deliveries")
    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries")
    kind = models.CharField(max_length=10, choices=MessageKind.choices)
    # the message's id (a webhook's webhook-id): the same on every attempt, so receivers drop duplicates
    message_id = models.CharField(max_length=64, blank=True, db_index=True)
    attempt = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["alert", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind} via {self.channel}: {self.status} (attempt {self.attempt})"


class Notification(models.Model):
    """An in-console notification (seed 004's /api/notifications/): alert messages and posted ones."""

    title = models.CharField(max_length=300)
    message = models.TextField(blank=True)
    level = models.CharField(max_length=10, choices=NotificationLevel.choices, default=NotificationLevel.INFO)
    source = models.CharField(max_length=255, blank=True)
    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications")
    metadata = models.JSONField(default=dict, blank=True)
    read = models.BooleanField(default=False)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["read", "-created_at"], name="notification_unread")]

    def __str__(self) -> str:
        return self.title


from alerts.models_analysis import Analysis  # noqa: E402,F401  (incident analysis, issue 7)
