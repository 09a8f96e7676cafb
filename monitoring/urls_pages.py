"""Monitoring's console pages under /console/, in the "dashboards" namespace (config/urls.py adds the alert pages)."""

from django.contrib.auth import views as auth
from django.urls import path

from monitoring import views

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
    path("servers/<str:server_id>/timeline", views.server_timeline, name="server-timeline"),
    path("logs", views.logs, name="logs"),
    path("services", views.services, name="services"),
    path("events", views.events, name="events"),
    path("storage", views.storage, name="storage"),
]
