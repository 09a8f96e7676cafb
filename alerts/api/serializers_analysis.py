"""Inputs of the analysis endpoints (seed 003's body, seed 004's query)."""

from __future__ import annotations

from rest_framework import serializers

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
