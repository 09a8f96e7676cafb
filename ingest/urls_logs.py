"""Seed 004 log ingest: batches, single logs, continuous streams, service registration."""

from django.urls import path

from ingest import seed004

urlpatterns = [
    path("api/logs/stream/<str:service_name_in_path>", seed004.stream, name="logs-stream"),
    path("api/logs/stream/<str:service_name_in_path>/single", seed004.single, name="logs-stream-single"),
    path("api/logs/stream/<str:service_name_in_path>/continuous", seed004.continuous, name="logs-stream-continuous"),
    path("api/logs/services/register", seed004.register_service, name="logs-services-register"),
]
