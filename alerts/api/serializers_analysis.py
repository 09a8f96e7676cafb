"""Inputs of the analysis endpoints (seed 003's body, seed 004's query)."""

from __future__ import annotations

from rest_framework import serializers

from monitoring.choices import EventStatus

MAX_LOOKBACK_MINUTES = 7 * 24 * 60


class FocusAreas(serializers.ListField):
    def __init__(self, **kwargs):
        super().__init__(
            child=serializers.CharField(max_length=64, allow_blank=False), max_length=10, required=False, **kwargs
        )


class AnalysisRequest(serializers.Serializer):
    """POST /api/v1/monitoring/analysis/llm (seed 003)."""

    lookback_minutes = serializers.IntegerField(min_value=1, max_value=MAX_LOOKBACK_MINUTES, default=30)
    focus_areas = FocusAreas(default=list)


class InsightsQuery(serializers.Serializer):
    """GET /api/analytics/insights (seed 004)."""

    lookback_minutes = serializers.IntegerField(min_value=1, max_value=MAX_LOOKBACK_MINUTES, default=60)
    service = serializers.CharField(max_length=255, required=False, allow_blank=True)


class WaitQuery(serializers.Serializer):
    """?wait=SECONDS: how long the request may wait for the result (at most ANALYSIS_WAIT_SECONDS)."""

    wait = serializers.FloatField(min_value=0, required=False)


# --- Answers (for the OpenAPI schema; the views answer the models' own dicts) ---


class Seed003Analysis(serializers.Serializer):
    analysis = serializers.CharField()
    severity = serializers.ChoiceField(choices=EventStatus.choices)
    key_findings = serializers.ListField(child=serializers.CharField())
    recommendations = serializers.ListField(child=serializers.CharField())
    confidence = serializers.FloatField(min_value=0, max_value=1)
    id = serializers.IntegerField()
    status = serializers.CharField()
    is_fallback = serializers.BooleanField(help_text="rule-based, no language model")
    model = serializers.CharField()
    generated_by = serializers.ChoiceField(choices=["model", "rules"], help_text="who wrote the result")
    notice = serializers.CharField(help_text="the label pages show: model-generated (check it) or rule-based")
    url = serializers.CharField()


class Accepted(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    url = serializers.CharField(help_text="GET it until status is done or failed (also in Location)")


class Insight(serializers.Serializer):
    type = serializers.CharField()
    message = serializers.CharField()


class Insights(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    lookback_minutes = serializers.IntegerField()
    service = serializers.CharField(allow_null=True)
    summary = serializers.CharField()
    severity = serializers.CharField()
    insights = Insight(many=True)
    recommendations = serializers.ListField(child=serializers.CharField())
    confidence = serializers.FloatField()
    analysis_id = serializers.IntegerField()
    status = serializers.CharField()
    is_fallback = serializers.BooleanField()
    model = serializers.CharField()
    generated_by = serializers.ChoiceField(choices=["model", "rules"], help_text="who wrote the result")
    notice = serializers.CharField(help_text="the label pages show: model-generated (check it) or rule-based")


class AnalysisOut(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    status = serializers.ChoiceField(choices=["pending", "running", "done", "failed"])
    trigger = serializers.CharField()
    alert_id = serializers.IntegerField(allow_null=True)
    lookback_minutes = serializers.IntegerField(allow_null=True)
    focus_areas = serializers.ListField(child=serializers.CharField())
    services = serializers.ListField(child=serializers.CharField())
    window_start = serializers.DateTimeField(allow_null=True)
    window_end = serializers.DateTimeField(allow_null=True)
    result = Seed003Analysis(allow_null=True, help_text="analysis, severity, key_findings, recommendations, confidence")
    is_fallback = serializers.BooleanField()
    generated_by = serializers.ChoiceField(choices=["model", "rules"], help_text="who wrote the result")
    notice = serializers.CharField(help_text="the label pages show: model-generated (check it) or rule-based")
    fallback_reason = serializers.CharField()
    error = serializers.CharField()
    model = serializers.CharField()
    tokens_used = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    latency_ms = serializers.IntegerField(allow_null=True)
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    evidence = serializers.DictField(required=False, help_text="the evidence pack the model saw")


class AnalysisList(serializers.Serializer):
    results = AnalysisOut(many=True)
