"""The console's pages, under /console/ (namespace "dashboards")."""

from django.contrib.auth import views as auth
from django.urls import include, path

from monitoring import views

app_name = "dashboards"

pages = [
    path(
        "login",
        auth.LoginView.as_view(template_name="dashboards/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout", auth.LogoutView.as_view(next_page="dashboards:login"), name="logout"),
    path("", views.fleet, name="fleet"),
    path("servers/<str:server_id>", views.server_detail, name="server"),
    path("servers/<str:server_id>/series.json", views.series_data, name="series"),
    path("alerts", views.alert_list, name="alerts"),
    path("alerts/<int:alert_id>", views.alert_detail, name="alert"),
    path("alerts/<int:alert_id>/acknowledge", views.alert_acknowledge, name="alert-acknowledge"),
    path("alerts/<int:alert_id>/silence", views.alert_silence, name="alert-silence"),
    path("logs", views.logs, name="logs"),
    path("services", views.services, name="services"),
    path("events", views.events, name="events"),
    path("storage", views.storage, name="storage"),
]

urlpatterns = [path("console/", include(pages))]
