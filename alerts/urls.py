from django.urls import include, path

urlpatterns = [
    path("", include("alerts.api.urls_alerts")),
    path("", include("alerts.api.urls_analysis")),
]
