"""The alert pages, under /console/alerts (namespace "dashboards", joined with monitoring's in config/urls.py)."""

from django.urls import path

from alerts import views

pages = [
    path("alerts", views.alert_list, name="alerts"),
    path("alerts/<int:alert_id>", views.alert_detail, name="alert"),
    path("alerts/<int:alert_id>/acknowledge", views.alert_acknowledge, name="alert-acknowledge"),
    path("alerts/<int:alert_id>/silence", views.alert_silence, name="alert-silence"),
]
