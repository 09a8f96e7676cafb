from django.urls import include, path

from servers import views

urlpatterns = [
    path("", include("servers.api.urls")),
    path("agent/monitoring_agent.py", views.agent_file, name="agent-file"),
    path("agent/install.sh", views.install_script, name="agent-install"),
    path("console/servers/add", views.add_server, name="add-server"),
]
