"""A dashboard watching /api/ws/health hears a service turn unhealthy or silent, not only "up" on data."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.cache import cache

from config.asgi import application
from monitoring import service_health, storage
from servers.choices import ServerKind
from servers.models import Server

pytestmark = pytest.mark.django_db(transaction=True)


def _log(service: Server, level: str, count: int, ago: float = 0.5) -> None:
    batch = storage.Batch()
    ts = datetime.now(UTC) - timedelta(seconds=ago)
    for _ in range(count):
        batch.logs.append(storage.LogRecord(ts, service.pk, service.hostname, level, "line", {}, "test"))
    storage.write(batch)


async def _health_update(communicator, service: str, status: str, timeout: float = 10) -> dict:
    """Look for changes (the watcher's beat task) until a frame says ``service`` is ``status``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await database_sync_to_async(service_health.publish_changes)()
        while not await communicator.receive_nothing(timeout=0.3):
            frame = await communicator.receive_json_from()
            data = frame.get("data") or {}
            if frame["type"] == "health_update" and data.get("service") == service and data["status"] == status:
                return data
    raise AssertionError(f"no health_update saying {service} is {status}")


def test_the_health_socket_hears_a_service_turn_unhealthy_then_silent(bob_token, settings):
    settings.SERVICE_SILENT_SECONDS = 3
    cache.delete(service_health.LAST_STATUS_KEY)
    billing = Server.objects.create(hostname="billing", kind=ServerKind.SERVICE)
    _log(billing, "INFO", 20)
    service_health.publish_changes()  # healthy: nothing to say yet

    async def scenario():
        communicator = WebsocketCommunicator(
            application, f"/api/ws/health?token={bob_token}", headers=[(b"origin", b"http://localhost:8000")]
        )
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        assert (await communicator.receive_json_from(timeout=5))["type"] == "connected"

        await database_sync_to_async(_log)(billing, "ERROR", 5)
        unhealthy = await _health_update(communicator, "billing", "unhealthy")
        assert unhealthy["previous_status"] == "healthy" and unhealthy["errors_in_window"] == 5

        # then it stops logging altogether: nothing arrives, yet the socket hears it
        silent = await _health_update(communicator, "billing", "silent")
        assert silent["previous_status"] == "unhealthy" and silent["reasons"][0].startswith("no logs")
        await communicator.disconnect()

    async_to_sync(scenario)()
