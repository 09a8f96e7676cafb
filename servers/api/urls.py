from django.urls import path

# The slash variants answer like the others and stay out of the OpenAPI schema (schema=None).
from servers.api import views

urlpatterns = [
    path("api/v1/servers", views.ServerList.as_view(), name="server-list"),
    path("api/v1/servers/", views.ServerList.as_view(schema=None)),
    path("api/v1/servers/<uuid:pk>", views.ServerDetail.as_view(), name="server-detail"),
    path("api/v1/servers/<uuid:pk>/", views.ServerDetail.as_view(schema=None)),
]
