"""A seed 003/004 frontend served from another origin calls the REST API and opens the streams (CORS)."""

import subprocess
import sys
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from config.asgi import application

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = "http://dashboard.example.com:3000"


@pytest.fixture
def frontend_allowed(settings):
    settings.CORS_ALLOWED_ORIGINS = [FRONTEND]
    settings.CORS_ALLOW_ALL_ORIGINS = False


def _preflight(client, path: str, origin: str):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )


@pytest.mark.django_db
def test_a_listed_frontend_may_call_the_api_with_a_token(frontend_allowed, client, bob_token):
    preflight = _preflight(client, "/api/v1/monitoring/health", FRONTEND)
    assert preflight.status_code == 200
    assert preflight["Access-Control-Allow-Origin"] == FRONTEND
    assert "authorization" in preflight["Access-Control-Allow-Headers"]

    response = client.get("/api/health/", HTTP_ORIGIN=FRONTEND, HTTP_AUTHORIZATION=f"Bearer {bob_token}")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == FRONTEND
    assert "Access-Control-Allow-Credentials" not in response  # a token, never our session cookie


@pytest.mark.django_db
def test_other_origins_and_the_default_get_no_cors_headers(frontend_allowed, client, bob_token, settings):
    response = client.get(
        "/api/health/", HTTP_ORIGIN="https://evil.example.com", HTTP_AUTHORIZATION=f"Bearer {bob_token}"
    )
    assert "Access-Control-Allow-Origin" not in response
    settings.CORS_ALLOWED_ORIGINS = []  # the default: no origin at all
    assert "Access-Control-Allow-Origin" not in _preflight(client, "/api/health/", FRONTEND)


@pytest.mark.django_db
def test_pages_and_admin_are_not_opened_to_other_origins(frontend_allowed, client):
    assert "Access-Control-Allow-Origin" not in client.get("/console/login", HTTP_ORIGIN=FRONTEND)
    assert "Access-Control-Allow-Origin" not in client.get("/admin/login/", HTTP_ORIGIN=FRONTEND)


def test_a_listed_frontend_may_open_the_streams_and_others_may_not(transactional_db, frontend_allowed, bob_token):
    async def connects(origin: str) -> bool:
        socket = WebsocketCommunicator(
            application, f"/api/ws/live?token={bob_token}", headers=[(b"origin", origin.encode())]
        )
        connected, _ = await socket.connect(timeout=5)
        if connected:
            await socket.disconnect()
        return connected

    assert async_to_sync(connects)(FRONTEND)
    assert not async_to_sync(connects)("https://evil.example.com")


def _settings(tmp_path, **env) -> subprocess.CompletedProcess:
    from django.conf import settings

    code = (
        "import os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','config.settings'); from django.conf import settings; "
        "print(settings.CORS_ALLOW_ALL_ORIGINS, settings.CORS_ALLOWED_ORIGINS)"
    )
    full = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), "SECRET_KEY": "k" * 50}
    full |= {"DATABASE_URL": settings.DATABASE_URL, "REDIS_URL": settings.REDIS_URL, **env}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full, capture_output=True, text=True, timeout=60)


def test_any_origin_is_allowed_only_in_debug(tmp_path):
    refused = _settings(tmp_path, DEBUG="false", CORS_ALLOWED_ORIGINS="*")
    assert refused.returncode != 0
    assert "CORS_ALLOWED_ORIGINS=* is allowed only with DEBUG" in refused.stderr
    allowed = _settings(tmp_path, DEBUG="true", CORS_ALLOWED_ORIGINS="*")
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.strip() == "True []"
    listed = _settings(tmp_path, DEBUG="false", CORS_ALLOWED_ORIGINS=f"{FRONTEND},https://ops.example.com")
    assert listed.stdout.strip() == f"False ['{FRONTEND}', 'https://ops.example.com']"
