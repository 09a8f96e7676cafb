"""OpenAPI description of the agents' authentication on monitoring's API (loaded when apps are ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

AGENT_TOKEN = {
    "type": "http",
    "scheme": "bearer",
    "description": "An agent token (writes for its own host), or a fleet token (any host it names).",
}


class AgentTokenScheme(OpenApiAuthenticationExtension):
    target_class = "monitoring.api.events.AgentTokenAuthentication"
    name = "agentToken"

    def get_security_definition(self, auto_schema):
        return AGENT_TOKEN
