from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from alerts import urls_pages as alert_pages
from config import views
from monitoring import selfmetrics
from monitoring import urls_pages as monitoring_pages

admin.site.site_header = "Monitoring console"
admin.site.site_title = "Monitoring console"
admin.site.index_title = "Fleet administration"

urlpatterns = [
    path("", views.root, name="root"),
    path("api/", views.api_root, name="api-root"),
    path("api", views.api_root),
    path("healthz", views.healthz, name="healthz"),
    # what people type and browsers ask for before they know the console's paths
    path("favicon.ico", RedirectView.as_view(url=static("console/favicon.svg"), permanent=True)),
    path("login", RedirectView.as_view(pattern_name="dashboards:login", query_string=True)),
    path("login/", RedirectView.as_view(pattern_name="dashboards:login", query_string=True)),
    path("health", views.health, name="health"),
    path("metrics", selfmetrics.metrics_view, name="metrics-self"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("redoc", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("", include("servers.urls")),
    path("", include("ingest.urls")),
    path("", include("monitoring.urls")),
    path("", include("alerts.urls")),
    # the console's pages: one "dashboards" namespace, each app's pages from its own urls_pages
    path("console/", include((monitoring_pages.pages + alert_pages.pages, "dashboards"))),
]

# the API answers an unknown path in JSON (the one error shape) like any other refusal
handler404 = "config.views.not_found"
