from django.urls import include, path

urlpatterns = [
    path("", include("ingest.urls_seeds")),
    path("", include("ingest.urls_logs")),
    path("", include("ingest.urls_receivers")),
]
