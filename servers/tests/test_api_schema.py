"""People find the inventory API and its token schemes in the OpenAPI schema."""

import pytest

pytestmark = pytest.mark.django_db


def test_schema_describes_servers_and_token_auth(client, alice):
    client.force_login(alice)

    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    assert {"/api/v1/servers", "/api/v1/servers/{id}"} <= set(schema["paths"])
    assert "/api/v1/servers/" not in schema["paths"]
    assert {"personToken", "registrationToken"} <= set(schema["components"]["securitySchemes"])
