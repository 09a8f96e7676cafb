from django.urls import include, path

from alerts import views_links

urlpatterns = [
    path("", include("alerts.api.urls_alerts")),
    path("", include("alerts.api.urls_analysis")),
    path("console/act/<str:token>", views_links.alert_action, name="alert-action"),
]
