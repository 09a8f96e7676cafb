"""Fixtures for the read side: samples written through the real writer."""

from __future__ import annotations

from datetime import datetime

import pytest

from monitoring import storage
from monitoring.storage import Batch


@pytest.fixture
def write_samples():
    """write_samples(server, [(metric_type, name, labels, ts, value), ...]) through storage.write."""

    def write(server, samples: list[tuple[str, str, dict, datetime, float]]):
        batch = Batch()
        for metric_type, name, labels, ts, value in samples:
            batch.add_sample(server.id, metric_type, name, labels, ts, value)
        return storage.write(batch)

    return write


@pytest.fixture
def db02(db):
    from servers.models import Server

    return Server.objects.create(hostname="db-02", environment="production", labels={"role": "db"})
