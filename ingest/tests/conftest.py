"""Fixtures of the ingest tests: a clean throttle, a fleet client."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings

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
