from django.urls import path
from rest_framework.routers import SimpleRouter

from alerts.api import views


class Router(SimpleRouter):
    """APPEND_SLASH is off: every route answers with and without its trailing slash."""

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


router = Router()
router.register("api/v1/alert-rules", views.AlertRuleViewSet, basename="alert-rule")
router.register("api/v1/alerts", views.AlertViewSet, basename="alert")
router.register("api/v1/silences", views.SilenceViewSet, basename="silence")
router.register("api/notifications", views.NotificationViewSet, basename="notification")

urlpatterns = [
    path("api/alerts/recent", views.recent_alerts, name="alerts-recent"),
    path("api/health/alerts", views.health_alerts, name="health-alerts"),
    path("api/health/alerts/<int:alert_id>/acknowledge", views.health_acknowledge, name="health-alert-acknowledge"),
    *router.urls,
]
