"""Analysis: what the model (or the rule-based fallback) said about a window, and what it was shown."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from alerts.choices import AnalysisStatus, AnalysisTrigger
from monitoring.timestamps import iso_or_none

# An alert's evidence starts this long before it started (at least the rule's window and "for").
ALERT_LEAD = timedelta(minutes=15)
# and covers at most this much, from its end backwards.
ALERT_SPAN_MAX = timedelta(hours=6)


class Analysis(models.Model):
    alert = models.ForeignKey("alerts.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="analyses")
    trigger = models.CharField(max_length=16, choices=AnalysisTrigger.choices, default=AnalysisTrigger.API)
    status = models.CharField(max_length=10, choices=AnalysisStatus.choices, default=AnalysisStatus.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lookback_minutes = models.PositiveIntegerField(null=True, blank=True)
    focus_areas = models.JSONField(default=list, blank=True)
    services = models.JSONField(default=list, blank=True, help_text="only these log services (seed 004's service)")
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)

    model = models.CharField(max_length=200, blank=True, help_text="the model that answered; empty for rule-based")
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    tokens_used = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(null=True, blank=True, help_text="time spent waiting on the model")
    attempts = models.PositiveSmallIntegerField(default=0)

    evidence = models.JSONField(default=dict, blank=True, help_text="the evidence pack, as the model saw it")
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    is_fallback = models.BooleanField(default=False, help_text="rule-based analysis, no language model")
    fallback_reason = models.CharField(max_length=300, blank=True)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "analyses"
        indexes = [models.Index(fields=["alert", "-created_at"], name="analysis_by_alert")]

    def __str__(self) -> str:
        what = f"alert #{self.alert_id}" if self.alert_id else f"last {self.lookback_minutes} min"
        return f"Analysis #{self.pk} of {what} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (AnalysisStatus.DONE, AnalysisStatus.FAILED)

    @property
    def severity(self) -> str:
        return (self.result or {}).get("severity", "")

    def set_window(self, now: datetime | None = None) -> None:
        """The window to look at: the alert's (a lead before it started, to its end) or the lookback."""
        now = now or timezone.now()
        if self.alert_id:
            alert, rule = self.alert, self.alert.rule
            lead = max(ALERT_LEAD, timedelta(seconds=rule.window_seconds + rule.for_seconds))
            end = alert.resolved_at or now
            self.window_end = end
            self.window_start = max(alert.started_at - lead, end - ALERT_SPAN_MAX)
        else:
            self.window_end = now
            self.window_start = now - timedelta(minutes=self.lookback_minutes or 30)

    def as_seed003(self) -> dict:
        """Seed 003's answer to POST /analysis/llm, plus where it came from."""
        result = self.result or {}
        return {
            "analysis": result.get("analysis", ""),
            "severity": result.get("severity", ""),
            "key_findings": result.get("key_findings", []),
            "recommendations": result.get("recommendations", []),
            "confidence": result.get("confidence", 0.0),
            "id": self.pk,
            "status": self.status,
            "is_fallback": self.is_fallback,
            "model": self.model,
            "url": f"/api/v1/analyses/{self.pk}",
        }

    def as_dict(self, *, with_evidence: bool = True) -> dict:
        data = {
            "id": self.pk,
            "url": f"/api/v1/analyses/{self.pk}",
            "status": self.status,
            "trigger": self.trigger,
            "alert_id": self.alert_id,
            "lookback_minutes": self.lookback_minutes,
            "focus_areas": self.focus_areas,
            "services": self.services,
            "window_start": iso_or_none(self.window_start),
            "window_end": iso_or_none(self.window_end),
            "result": self.result or None,
            "is_fallback": self.is_fallback,
            "fallback_reason": self.fallback_reason,
            "error": self.error,
            "model": self.model,
            "tokens_used": self.tokens_used,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "latency_ms": self.latency_ms,
            "attempts": self.attempts,
            "created_at": iso_or_none(self.created_at),
            "finished_at": iso_or_none(self.finished_at),
        }
        if with_evidence:
            data["evidence"] = self.evidence
        return data
