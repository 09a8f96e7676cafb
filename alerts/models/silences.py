"""Silences: mute notifications of alerts whose labels match, between two times; the alerts stay visible."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
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
