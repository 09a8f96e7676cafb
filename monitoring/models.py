"""The data: series and samples, log entries, events and each server's latest snapshot.

Samples, log entries and events live in tables partitioned by day on ``ts``
(created in migrations with RunSQL, see monitoring/partitions.py); their
Django models are unmanaged and serve reads. Writes go through
monitoring/storage.py with COPY.
"""

from __future__ import annotations

from django.db import models

from monitoring import records
from monitoring.choices import ClassifiedBy, Decision, EventStatus, LogCategory, LogLevel, LogSeverity
from servers.models import Server


class Series(models.Model):
    """The dictionary: one row per (server, metric_type, name, labels); samples point at it."""

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="series")
    metric_type = models.CharField(max_length=128)
    name = models.CharField(max_length=255)
    labels = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "series"
        constraints = [
            models.UniqueConstraint(fields=["server", "metric_type", "name", "labels"], name="series_identity"),
        ]
        indexes = [models.Index(fields=["metric_type", "name"])]

    def __str__(self) -> str:
        labels = ",".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return f"{self.server_id}:{self.metric_type}.{self.name}{{{labels}}}"


class Sample(models.Model):
    """The samples of days not yet compacted: rows and runs (a view); compacted days are read through
    monitoring.compaction.samples_from."""

    pk = models.CompositePrimaryKey("series", "ts")
    series = models.ForeignKey(Series, on_delete=models.DO_NOTHING, db_constraint=False)
    ts = models.DateTimeField()
    value = models.FloatField()

    class Meta:
        managed = False
        db_table = "monitoring_sample_open"


class LogTemplate(models.Model):
    """A drain3 template of one service's log lines, with its classification (seed 004's AI classifier).

    Lines point at their template (``LogEntry.template``) once the classification
    task has seen them (monitoring/log_classification.py).
    """

    service = models.CharField(max_length=255)
    template = models.TextField()
    category = models.CharField(max_length=32, choices=LogCategory.choices)
    severity = models.CharField(max_length=16, choices=LogSeverity.choices)
    reason = models.TextField(blank=True)
    classified_by = models.CharField(max_length=16, choices=ClassifiedBy.choices)
    model = models.CharField(max_length=128, blank=True)
    count = models.BigIntegerField(default=0)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)
    classified_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["service", "template"], name="logtemplate_identity")]

    def __str__(self) -> str:
        return f"{self.service}: {self.template[:80]}"

    def classification(self) -> dict:
        return {
            "template_id": self.pk,
            "template": self.template,
            "category": self.category,
            "severity": self.severity,
            "reason": self.reason,
            "classified_by": self.classified_by,
            "model": self.model or None,
        }


class LogEntry(models.Model):
    pk = models.CompositePrimaryKey("ts", "id")
    id = models.BigIntegerField()
    ts = models.DateTimeField()
    server = models.ForeignKey(Server, null=True, on_delete=models.DO_NOTHING, db_constraint=False)
    service = models.CharField(max_length=255)
    level = models.CharField(max_length=16, choices=LogLevel.choices)
    message = models.TextField()
    metadata = models.JSONField(default=dict)
    source = models.CharField(max_length=32)
    # set by the log classification task; NULL until then
    template = models.ForeignKey(LogTemplate, null=True, on_delete=models.DO_NOTHING, db_constraint=False)

    class Meta:
        managed = False
        db_table = "monitoring_logentry"
        verbose_name_plural = "log entries"


class Event(models.Model):
    """An event (seed 003 events, docker events, agents' local alerts) with its evaluation."""

    pk = models.CompositePrimaryKey("ts", "id")
    id = models.BigIntegerField()
    ts = models.DateTimeField()
    server = models.ForeignKey(Server, null=True, on_delete=models.DO_NOTHING, db_constraint=False)
    source = models.CharField(max_length=255)
    event_type = models.CharField(max_length=128)
    data = models.JSONField(default=dict)
    metadata = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=EventStatus.choices, default=EventStatus.NORMAL)
    severity = models.FloatField(default=0.0)
    reasons = models.JSONField(default=list)
    suggestions = models.JSONField(default=list)
    decision = models.CharField(max_length=16, choices=Decision.choices, default=Decision.CONTINUE)
    # the model's second opinion on a WARNING/CRITICAL verdict (severity, explanation, model); NULL until asked
    llm_review = models.JSONField(null=True)

    class Meta:
        managed = False
        db_table = "monitoring_event"

    @property
    def summary(self) -> str:
        return records.event_summary(self.reasons, self.data)


class Snapshot(models.Model):
    """The latest whole payload per server, for the dashboards (seed 000, seed 002)."""

    server = models.OneToOneField(Server, primary_key=True, on_delete=models.CASCADE, related_name="snapshot")
    ts = models.DateTimeField()
    received_at = models.DateTimeField()
    payload = models.JSONField(default=dict)
    processes = models.JSONField(default=list)
    score = models.FloatField(null=True)


class IngestReceipt(models.Model):
    """A request already stored (body digest or Idempotency-Key per agent): retries store nothing twice."""

    key = models.CharField(max_length=128, primary_key=True)
    created_at = models.DateTimeField(db_index=True)
    summary = models.JSONField(default=dict)


class FieldStats(models.Model):
    """Running statistics of one numeric field of one server's event source (Welford: count, mean, M2).

    The evaluator judges a value against them (z-score) and folds the value in,
    in one UPSERT, so anomaly detection never scans the history of events. A
    source belongs to the server whose agent posts it (NULL: events posted
    without a server), so one agent cannot shift another host's baseline.
    """

    server = models.ForeignKey(Server, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=255)
    field = models.CharField(max_length=128)
    count = models.BigIntegerField(default=0)
    mean = models.FloatField(default=0.0)
    m2 = models.FloatField(default=0.0)
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "field statistics"
        constraints = [
            models.UniqueConstraint(
                fields=["server", "source", "field"], name="fieldstats_per_server", nulls_distinct=False
            )
        ]

    def __str__(self) -> str:
        return f"{self.source}.{self.field} (n={self.count}, mean={self.mean:.3g})"

    @property
    def std(self) -> float:
        return (self.m2 / (self.count - 1)) ** 0.5 if self.count > 1 else 0.0


class Annotation(models.Model):
    """A mark on the time axis: a deploy (from CI) or a note, for one server or the whole fleet.

    Posted to ``POST /api/v1/annotations`` with a fleet or person token; drawn on the
    server page's charts and listed on the server's timeline.
    """

    KINDS = [("deploy", "Deploy"), ("note", "Note")]

    server = models.ForeignKey(Server, null=True, blank=True, on_delete=models.CASCADE, related_name="annotations")
    ts = models.DateTimeField(db_index=True)
    kind = models.CharField(max_length=16, choices=KINDS, default="deploy")
    title = models.CharField(max_length=300)
    text = models.TextField(blank=True)
    url = models.URLField(max_length=500, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    # who posted it: a person's username, or "fleet token mcf_…"
    author = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-ts", "-id"]
        indexes = [models.Index(fields=["server", "ts"])]

    def __str__(self) -> str:
        return f"{self.kind}: {self.title}"

    def as_dict(self) -> dict:
        return {
            "id": self.pk,
            "server": str(self.server_id) if self.server_id else None,
            "ts": self.ts.isoformat(),
            "kind": self.kind,
            "title": self.title,
            "text": self.text,
            "url": self.url,
            "tags": self.tags,
            "author": self.author,
        }
