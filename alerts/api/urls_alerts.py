"""Routes of the alerting API. APPEND_SLASH is off: each path also answers with (or without) the
trailing slash; the schema lists the spelling the seeds and the README use."""

from functools import wraps

from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from alerts.api import views


def _alias(view):
    """The same view under the other spelling, hidden from the schema (a plain function view)."""

    @csrf_exempt
    @wraps(view, assigned=("__name__", "__doc__"), updated=())
    def alias(request, *args, **kwargs):
        return view(request, *args, **kwargs)

    return alias


def both(route: str, view, name: str) -> list:
    other = route[:-1] if route.endswith("/") else route + "/"
    return [path(route, view, name=name), path(other, _alias(view))]


rules = views.AlertRuleViewSet.as_view({"get": "list", "post": "create"})
rule = views.AlertRuleViewSet.as_view(
    {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
)
alerts = views.AlertViewSet.as_view({"get": "list"})
alert = views.AlertViewSet.as_view({"get": "retrieve"})
acknowledge = views.AlertViewSet.as_view({"post": "acknowledge"})
silences = views.SilenceViewSet.as_view({"get": "list", "post": "create"})
silence = views.SilenceViewSet.as_view(
    {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
)
notifications = views.NotificationViewSet.as_view({"get": "list", "post": "create"})
bulk = views.NotificationViewSet.as_view({"post": "bulk"})
channels = views.NotificationViewSet.as_view({"get": "channels"})

urlpatterns = [
    *both("api/v1/alert-rules", rules, "alert-rule-list"),
    *both("api/v1/alert-rules/<int:pk>", rule, "alert-rule-detail"),
    *both("api/v1/alerts", alerts, "alert-list"),
    *both("api/v1/alerts/<int:pk>", alert, "alert-detail"),
    *both("api/v1/alerts/<int:pk>/acknowledge", acknowledge, "alert-acknowledge"),
    *both("api/v1/silences", silences, "silence-list"),
    *both("api/v1/silences/<int:pk>", silence, "silence-detail"),
    *both("api/alerts/recent", views.recent_alerts, "alerts-recent"),
    *both("api/health/alerts", views.health_alerts, "health-alerts"),
    *both("api/health/alerts/<int:alert_id>/acknowledge", views.health_acknowledge, "health-alert-acknowledge"),
    *both("api/notifications/", notifications, "notification-list"),
    *both("api/notifications/bulk", bulk, "notification-bulk"),
    *both("api/notifications/channels", channels, "notification-channels"),
]
