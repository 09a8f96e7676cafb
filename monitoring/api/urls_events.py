"""Seed 003's event monitor under /api/v1/monitoring/ (analysis/llm belongs to alerts/api/urls_analysis.py)."""

from django.urls import path

from monitoring.api import events

P = "api/v1/monitoring/"

urlpatterns = [
    path(P + "events", events.EventsView.as_view(), name="monitoring-events"),
    path(P + "health", events.HealthView.as_view(), name="monitoring-health"),
    path(P + "logs", events.LogsView.as_view(), name="monitoring-logs"),
    path(P + "logs/query", events.LogsView.as_view(), name="monitoring-logs-query"),
    path(P + "stats", events.StatsView.as_view(), name="monitoring-stats"),
    path(P + "analysis/re-evaluate", events.ReEvaluateView.as_view(), name="monitoring-re-evaluate"),
    path(P + "maintenance/cleanup", events.CleanupView.as_view(), name="monitoring-cleanup"),
]
