"""Alerts: one (rule, server, labels) fingerprint from pending to resolved, and each step it took.

Each fingerprint has at most one open ``Alert`` (pending or firing), enforced by
a partial unique constraint; its life is pending -> firing -> resolved, each
step kept as an ``AlertTransition``. Signals are sent after the transaction
commits (alerts/signals.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from alerts import signals
from alerts.choices import OPEN_STATES, AlertState, MessageKind, Severity
from alerts.models.rules import AlertRule
from alerts.models.silences import Silence
from monitoring.timestamps import iso_or_none
from servers.models import Server

log = logging.getLogger(__name__)


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
    # root-cause suppression (alerts/suppression.py): the host-down alert, or a reason when there is none yet
    suppressed_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="suppressed_alerts"
    )
    suppressed_reason = models.CharField(max_length=300, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    # the host when the alert fired: its process table and snapshot values, frozen (alerts/context.py)
    context = models.JSONField(default=dict, blank=True)

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
        if self.server_id and self.rule.watches_metrics:
            from alerts import context

            self.context = context.freeze(self.server_id, now)
        self.save()
        _page(self, MessageKind.FIRING, now)
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
        self.save()
        if was_firing:
            _page(self, MessageKind.RESOLVED, now)
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

    def acknowledge(self, user, via: str = "") -> bool:
        """Someone is on it: who (or through which link) and when; reminders stop. Answers whether anything changed."""
        if self.acknowledged_at is not None:
            return False
        self.acknowledged_at, self.acknowledged_by = timezone.now(), user
        self.save(update_fields=["acknowledged_at", "acknowledged_by"])
        self.note(f"acknowledged by {user}" if user is not None else f"acknowledged via {via}", self.acknowledged_at)
        self._announce(None)
        return True

    def note(self, text: str, at: datetime | None = None) -> None:
        """A line in the alert's history that is not a change of state."""
        AlertTransition.objects.create(
            alert=self, from_state=self.state, to_state=self.state, at=at or timezone.now(), note=text[:500]
        )

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
            "server": self.server.hostname if self.server_id else None,  # today's name, kept beside hostname
            **self.read_names(),
            "summary": self.summary,
            "description": self.description,
            "runbook_url": self.runbook_url,
            "value": self.value,
            "trigger_value": self.trigger_value,
            "threshold": self.rule.threshold,
            "fingerprint": self.fingerprint,
            "timestamp": iso_or_none(self.started_at),  # when it started, as seed 004's alerts name it
            "started_at": iso_or_none(self.started_at),
            "fired_at": iso_or_none(self.fired_at),
            "resolved_at": iso_or_none(self.resolved_at),
            "acknowledged_at": iso_or_none(self.acknowledged_at),
            "acknowledged_by": self.acknowledged_by.get_username() if self.acknowledged_by_id else None,
            "suppressed_by": self.suppression(),
            "top_processes": (self.context or {}).get("processes", [])[:5],
        }

    def read_names(self) -> dict:
        """Its server and metric under the names every read and frame uses (docs/seeds.md, one set of names)."""
        return {
            "server_id": str(self.server_id) if self.server_id else None,
            "hostname": self.server.hostname if self.server_id else None,
            "metric_type": self.rule.metric_type,
            "metric_name": self.rule.metric_name,
            "labels": self.labels,
        }

    def suppression(self) -> dict | None:
        """What keeps this alert from paging, as the API and webhooks show it; None when nothing does."""
        if not self.suppressed_reason:
            return None
        return {"alert_id": self.suppressed_by_id, "reason": self.suppressed_reason}


def _page(alert: Alert, kind: str, now: datetime) -> None:
    # in the alert's transaction: alerts.paging decides whether a message goes out (connected in AppConfig.ready)
    signals.message_due.send(sender=Alert, alert=alert, kind=kind, now=now)


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
