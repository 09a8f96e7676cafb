"""Fixtures the ingest tests share: a clean throttle, a fleet client, an unreachable database.

A real daphne serving the console: ``start_console`` / ``daphne_console`` in the root conftest.py."""

from __future__ import annotations

import contextlib

import pytest
import redis
from django.conf import settings
from django.db import connection

from bench.harness import free_port
from ingest.base import rate_limiter


@pytest.fixture(autouse=True)
def _fresh_throttle():
    """Each test starts with no request counted and Redis believed up."""
    rate_limiter.reset()
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("ingest:rate:*"):
        client.delete(key)
    yield
    rate_limiter.reset()


@pytest.fixture
def fleet(client, fleet_token):
    """A Django test client speaking with a fleet token."""
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {fleet_token}"
    return client


@contextlib.contextmanager
def _unreachable_database():
    """Point the connection at a loopback port nobody listens on: a real OperationalError."""
    port = free_port()
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=port)
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


@pytest.fixture
def unreachable_database():
    return _unreachable_database
