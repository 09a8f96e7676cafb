"""What the monitoring read APIs answer, described for the OpenAPI schema (/api/schema/, /docs).

These serializers describe responses only: the views build their JSON
directly (the hot read paths stay out of per-row serializer work), and
monitoring/tests/test_read_schemas.py checks every answer against its shape.
"""

from __future__ import annotations

from rest_framework import serializers as s

from monitoring.choices import EventStatus, ServiceState


class ErrorItem(s.Serializer):
    field = s.CharField(help_text="the offending field's path, e.g. metrics[3].value; empty when none")
    message = s.CharField()


class Error(s.Serializer):
    """The one error shape of every 4xx and 503."""

    detail = s.CharField()
    errors = ErrorItem(many=True)


class MetricSeries(s.Serializer):
    id = s.IntegerField(help_text="the series id (also series_id)")
    series_id = s.IntegerField()
    server_id = s.UUIDField()
    server = s.UUIDField(help_text="the server id (kept for scripts that read it)")
    hostname = s.CharField()
    metric_type = s.CharField()
    metric_name = s.CharField()
    name = s.CharField(help_text="the metric name (kept for scripts that read it)")
    labels = s.DictField()
    points = s.ListField(
        child=s.ListField(child=s.JSONField(), min_length=2, max_length=2),
        help_text="[[timestamp (RFC 3339, UTC), value], ...], oldest first",
    )
    timestamp = s.DateTimeField(required=False, allow_null=True, help_text="without a range: the latest point's time")
    value = s.FloatField(required=False, allow_null=True, help_text="without a range: the latest point's value")


class RecentSample(s.Serializer):
    timestamp = s.DateTimeField()
    server_id = s.UUIDField()
    hostname = s.CharField()
    metric_type = s.CharField()
    metric_name = s.CharField()
    labels = s.DictField()
    value = s.FloatField()


class LogEntry(s.Serializer):
    id = s.IntegerField()
    timestamp = s.DateTimeField()
    server_id = s.UUIDField(allow_null=True)
    hostname = s.CharField(allow_null=True, help_text="the server's hostname (null when the line names no server)")
    service = s.CharField()
    level = s.CharField()
    message = s.CharField()
    metadata = s.DictField()
    source = s.CharField()


class LogPage(s.Serializer):
    count = s.IntegerField()
    next_cursor = s.CharField(allow_null=True, help_text="pass as cursor for the next (older) page")
    results = LogEntry(many=True)


class ServiceHealth(s.Serializer):
    service_name = s.CharField()
    server = s.CharField(allow_null=True, help_text="the hostname of the server whose agent posts this service's logs")
    server_id = s.UUIDField(allow_null=True)
    hostname = s.CharField(allow_null=True, help_text="the same hostname as server, under the read APIs' name")
    status = s.ChoiceField(choices=ServiceState.choices)
    error_rate = s.FloatField()
    logs_in_window = s.IntegerField()
    errors_in_window = s.IntegerField()
    critical_errors_last_hour = s.IntegerField()
    last_log_at = s.DateTimeField(allow_null=True)
    reasons = s.ListField(child=s.CharField())
    classification = s.DictField(allow_null=True, help_text="the log classifier's counts by category and severity")


class ServiceListed(ServiceHealth):
    registered = s.BooleanField()
    id = s.UUIDField(allow_null=True)
    environment = s.CharField(allow_blank=True)


class ServiceList(s.Serializer):
    count = s.IntegerField()
    services = ServiceListed(many=True)


class HealthThresholds(s.Serializer):
    error_rate = s.FloatField()
    error_rate_window_seconds = s.IntegerField()
    silent_after_seconds = s.IntegerField()


class HealthSummary(s.Serializer):
    total = s.IntegerField()
    healthy = s.IntegerField()
    unhealthy = s.IntegerField()
    silent = s.IntegerField()


class HealthOverview(s.Serializer):
    status = s.ChoiceField(choices=["healthy", "unhealthy", "degraded"])
    timestamp = s.DateTimeField()
    services = ServiceHealth(many=True)
    summary = HealthSummary()
    recent_critical_errors = LogEntry(many=True)
    thresholds = HealthThresholds()


class ServiceHealthDetail(ServiceHealth):
    instances = ServiceHealth(many=True, help_text="the service on each server that logs it, worst first")
    recent_critical_errors = LogEntry(many=True)
    thresholds = HealthThresholds()


class Status(s.Serializer):
    status = s.ChoiceField(choices=["running", "degraded"])
    timestamp = s.DateTimeField()
    service = s.CharField()
    database = s.ChoiceField(choices=["up", "down"])


class LogGroup(s.Serializer):
    level = s.CharField(required=False)
    service = s.CharField(required=False)
    time = s.DateTimeField(required=False)
    count = s.IntegerField()


class LogGroups(s.Serializer):
    group_by = s.ListField(child=s.ChoiceField(choices=["level", "service", "time"]))
    bucket_seconds = s.IntegerField()
    count = s.IntegerField()
    groups = LogGroup(many=True)


class TrendBucket(s.Serializer):
    time = s.DateTimeField()
    DEBUG = s.IntegerField()
    INFO = s.IntegerField()
    WARNING = s.IntegerField()
    ERROR = s.IntegerField()
    CRITICAL = s.IntegerField()
    total = s.IntegerField()
    error_rate = s.FloatField()


class Trends(s.Serializer):
    service_name = s.CharField()
    hours = s.IntegerField()
    bucket_seconds = s.IntegerField()
    buckets = TrendBucket(many=True)


class ErrorPattern(s.Serializer):
    template = s.CharField()
    count = s.IntegerField()
    first_seen = s.DateTimeField()
    last_seen = s.DateTimeField()
    example = s.CharField()
    services = s.ListField(child=s.CharField())


class ErrorPatterns(s.Serializer):
    hours = s.IntegerField()
    lines_analysed = s.IntegerField()
    truncated = s.BooleanField()
    total_patterns = s.IntegerField()
    patterns = ErrorPattern(many=True)


class EventSnapshot(s.Serializer):
    data = s.DictField()
    metadata = s.DictField()


class EventEntry(s.Serializer):
    id = s.IntegerField()
    timestamp = s.DateTimeField()
    server_id = s.UUIDField(allow_null=True)
    hostname = s.CharField(allow_null=True, help_text="the server's hostname (null when the event names no server)")
    source = s.CharField()
    event_type = s.CharField()
    input_snapshot = EventSnapshot()
    status = s.ChoiceField(choices=EventStatus.choices)
    severity_score = s.FloatField()
    reasons = s.ListField(child=s.CharField())
    suggestions = s.ListField(child=s.CharField())
    decision = s.CharField()


class EventPage(s.Serializer):
    count = s.IntegerField()
    limit = s.IntegerField()
    offset = s.IntegerField()
    logs = EventEntry(many=True)


class EventHealth(s.Serializer):
    current_status = s.ChoiceField(choices=EventStatus.choices)
    severity_score = s.FloatField()
    last_update = s.DateTimeField(allow_null=True)
    recent_issues = s.ListField(child=s.CharField())
    total_events_processed = s.IntegerField()
    window_seconds = s.IntegerField()


class EventStatusCount(s.Serializer):
    count = s.IntegerField()
    average_severity = s.FloatField(required=False)
    last_24h = s.IntegerField(required=False)


class EventSource(s.Serializer):
    source = s.CharField()
    count = s.IntegerField()
    average_severity = s.FloatField()
    last_event = s.DateTimeField()


class EventStats(s.Serializer):
    total_events = s.IntegerField()
    by_status = s.DictField(child=EventStatusCount(), help_text="NORMAL, WARNING, CRITICAL")
    by_decision = s.DictField(child=s.IntegerField())
    top_sources = EventSource(many=True)
    last_24h = s.IntegerField()
    anomaly_baselines = s.IntegerField()
    thresholds = s.DictField(child=s.FloatField())
