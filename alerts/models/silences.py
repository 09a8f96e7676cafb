"""Silences: mute notifications of alerts whose labels match, between two times; the alerts stay visible."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.utils import timezone

from alerts.models.rules import matches

if TYPE_CHECKING:
    from alerts.models.alerts import Alert


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

    def is_active(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.starts_at <= now < self.ends_at
