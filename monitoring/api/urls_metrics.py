from django.urls import path

from monitoring.api.snapshots import SnapshotView
from monitoring.api.views_metrics import MetricsView, RecentMetricsView

urlpatterns = [
    path("api/v1/metrics", MetricsView.as_view(), name="metrics"),
    path("api/metrics/recent", RecentMetricsView.as_view(), name="metrics-recent"),
    path("api/v1/servers/<uuid:server_id>/snapshot", SnapshotView.as_view(), name="server-snapshot"),
]
