"""Reading logs: search, services, service health, status, analytics (seed 004 paths and /api/v1/logs).

/api/health/alerts belongs to alerts/api/urls_alerts.py, /api/analytics/insights to urls_analysis.py.
"""

from django.urls import path

from monitoring.api import logs

urlpatterns = [
    path("api/v1/logs", logs.LogSearchView.as_view(), name="logs-search"),
    path("api/logs/services", logs.ServicesView.as_view(), name="logs-services"),
    path("api/health/", logs.HealthOverviewView.as_view(), name="logs-health"),
    path("api/health", logs.HealthOverviewView.as_view()),
    path("api/health/services/<str:service_name>", logs.ServiceHealthView.as_view(), name="logs-service-health"),
    path("api/status", logs.StatusView.as_view(), name="api-status"),
    path("api/analytics/query", logs.AnalyticsQueryView.as_view(), name="analytics-query"),
    path("api/analytics/trends/<str:service_name>", logs.TrendsView.as_view(), name="analytics-trends"),
    path("api/analytics/errors/patterns", logs.ErrorPatternsView.as_view(), name="analytics-error-patterns"),
]
