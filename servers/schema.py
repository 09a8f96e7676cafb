"""OpenAPI descriptions of the inventory's authentication (loaded by drf-spectacular when apps are ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class PersonTokenScheme(OpenApiAuthenticationExtension):
    target_class = "servers.auth.PersonTokenAuthentication"
    name = "personToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A person's API token (`manage.py issue_token --user NAME`); agent tokens get 403.",
        }


class RegistrationTokenScheme(OpenApiAuthenticationExtension):
    target_class = "servers.auth.RegistrationAuthentication"
    name = "registrationToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A person's API token, a fleet token, or an agent token for its own hostname.",
        }
