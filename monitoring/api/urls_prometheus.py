from django.urls import path

from monitoring.api import prometheus

urlpatterns = [
    path("prometheus/api/v1/query", prometheus.query, name="prometheus-query"),
    path("prometheus/api/v1/query_range", prometheus.query_range, name="prometheus-query-range"),
    path("prometheus/api/v1/series", prometheus.series, name="prometheus-series"),
    path("prometheus/api/v1/labels", prometheus.labels, name="prometheus-labels"),
    path("prometheus/api/v1/label/<str:name>/values", prometheus.label_values, name="prometheus-label-values"),
    path("prometheus/api/v1/metadata", prometheus.metadata, name="prometheus-metadata"),
    path("prometheus/api/v1/status/buildinfo", prometheus.buildinfo, name="prometheus-buildinfo"),
    path("prometheus/api/v1/query_exemplars", prometheus.query_exemplars, name="prometheus-query-exemplars"),
    path("prometheus/api/v1/rules", prometheus.rules, name="prometheus-rules"),
    path("prometheus/api/v1/alerts", prometheus.alerts, name="prometheus-alerts"),
]
