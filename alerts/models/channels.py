"""Where messages go (channels), each attempt to send one (deliveries), and in-console notifications."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from alerts.choices import ChannelKind, DeliveryStatus, MessageKind, NotificationLevel, Severity
from alerts.models.alerts import Alert
from alerts.models.rules import matches
from alerts.outbound import RefusedDestination, check_destination, masked_url

SEVERITY_RANK = {Severity.WARNING: 1, Severity.CRITICAL: 2}


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
