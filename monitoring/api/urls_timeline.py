from django.urls import path

from monitoring.api.timeline import AnnotationsView, ServerTimelineView

urlpatterns = [
    path("api/v1/servers/<str:server_id>/timeline", ServerTimelineView.as_view(), name="server-timeline"),
    path("api/v1/servers/<str:server_id>/timeline/", ServerTimelineView.as_view(schema=None)),
    path("api/v1/annotations", AnnotationsView.as_view(), name="annotations"),
    path("api/v1/annotations/", AnnotationsView.as_view(schema=None)),
]
