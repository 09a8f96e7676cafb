from django.urls import path

from servers.api import views

urlpatterns = [
    path("api/v1/servers", views.ServerList.as_view(), name="server-list"),
    path("api/v1/servers/", views.ServerList.as_view()),
    path("api/v1/servers/<uuid:pk>", views.ServerDetail.as_view(), name="server-detail"),
    path("api/v1/servers/<uuid:pk>/", views.ServerDetail.as_view()),
]
