"""Less noise: notification policies, the ledger of pages, one-click action links.

A ``Page`` is one message about an alert meant for people (firing, reminder,
escalation, resolved, digest) and what became of it: sent, suppressed by its
root cause (a host down), or folded into the hour's digest because the rule
spent its ``NOTIFY_BUDGET_PER_HOUR``. The budget and the digests read this
ledger, so they follow the evaluation's clock (an injected one in tests).

A sent page is also the notification outbox: it is written in the alert's
transaction and stays pending (``dispatched_at`` empty) until a worker has
taken it, so a message owed while Redis was down is sent by the sweep later.
``DeliveryClaim`` lets one page through one channel go out once, whichever
task gets there first.
"""

from __future__ import annotations

import hashlib

from django.db import models
from django.db.models import Q
from django.utils import timezone

from alerts.choices import LinkAction, MessageKind, PageOutcome


class NotificationPolicy(models.Model):
    """How long to keep paging an unacknowledged alert, and whom to escalate to.

    A rule names its policy; a rule without one follows the policy marked
    default, and without that, REPEAT_INTERVAL with no escalation.
    """

    name = models.CharField(max_length=200, unique=True)
    is_default = models.BooleanField(default=False, help_text="rules without a policy follow this one")
    repeat_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="repeat a firing, unacknowledged alert this often; empty: REPEAT_INTERVAL"
    )
    escalate_after_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="still unacknowledged after this long: tell the escalation channel"
    )
    escalate_to = models.ForeignKey(
        "alerts.NotificationChannel",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="the second channel: it takes this policy's alerts only once they are escalated",
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "notification policies"
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_policy")
        ]

    def __str__(self) -> str:
        return self.name


class Page(models.Model):
    """One message about an alert (or a digest) and whether it went out."""

    rule = models.ForeignKey("alerts.AlertRule", on_delete=models.CASCADE, related_name="pages")
    alert = models.ForeignKey("alerts.Alert", null=True, blank=True, on_delete=models.CASCADE, related_name="pages")
    kind = models.CharField(max_length=10, choices=MessageKind.choices)
    outcome = models.CharField(max_length=10, choices=PageOutcome.choices)
    reason = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(default=timezone.now)
    # a folded page points at the digest that carried it
    digest = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="folded")
    # when a worker took a sent page (in-console notification recorded, deliveries queued); empty: still owed
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["rule", "at"]),
            models.Index(
                fields=["outcome", "at"], condition=Q(outcome="folded", digest__isnull=True), name="page_undigested"
            ),
            models.Index(fields=["at"], condition=Q(outcome="sent", dispatched_at__isnull=True), name="page_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.outcome} at {self.at:%H:%M:%S}"


class DeliveryClaim(models.Model):
    """One page through one channel, claimed by the delivery task that sends it (its message id).

    A second task for the same page and channel (the sweep and a late original
    both queued it) finds the claim taken and sends nothing; the claiming task's
    retries carry the same message id and go on.
    """

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="claims")
    channel = models.ForeignKey("alerts.NotificationChannel", on_delete=models.CASCADE, related_name="+")
    message_id = models.CharField(max_length=64)
    claimed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["page", "channel"], name="one_claim_per_page_and_channel")]

    def __str__(self) -> str:
        return f"page {self.page_id} via channel {self.channel_id}: {self.message_id}"

    @classmethod
    def take(cls, page_id: int, channel_id: int, message_id: str) -> bool:
        """Claim the page for the channel; answers whether this message id holds the claim."""
        cls.objects.bulk_create(
            [cls(page_id=page_id, channel_id=channel_id, message_id=message_id)], ignore_conflicts=True
        )
        return cls.objects.filter(page_id=page_id, channel_id=channel_id, message_id=message_id).exists()


class ActionLink(models.Model):
    """A signed link in a Slack or e-mail message that acknowledges or silences an alert, once.

    The link carries a signed (alert, action, nonce); the row keeps the nonce's
    digest and whether it was used, so a link works once and until it expires.
    """

    alert = models.ForeignKey("alerts.Alert", on_delete=models.CASCADE, related_name="action_links")
    action = models.CharField(max_length=12, choices=LinkAction.choices)
    digest = models.CharField(max_length=64, unique=True)
    channel = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.action} #{self.alert_id} ({'used' if self.used_at else 'unused'})"

    @staticmethod
    def digest_of(nonce: str) -> str:
        return hashlib.sha256(nonce.encode()).hexdigest()
