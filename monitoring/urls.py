from django.urls import include, path

urlpatterns = [
    path("", include("monitoring.api.urls_metrics")),
    path("", include("monitoring.api.urls_prometheus")),
    path("", include("monitoring.api.urls_logs")),
    path("", include("monitoring.api.urls_events")),
    path("", include("monitoring.api.urls_timeline")),
]
