"""Receivers for the agents people already run (issue 9): exact paths, no trailing-slash variants."""

from django.urls import path

from ingest import collectd, otlp, prometheus

urlpatterns = [
    path("api/v1/prom/write", prometheus.receive, name="prometheus-remote-write"),
    path("v1/metrics", otlp.receive_metrics, name="otlp-metrics"),
    path("v1/logs", otlp.receive_logs, name="otlp-logs"),
    path("api/v1/collectd", collectd.receive, name="collectd-write-http"),
]
