"""The beat schedule's tasks run in a real Celery worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from monitoring import partitions, tasks


@pytest.mark.slow
def test_upkeep_and_retention_tasks_run_in_the_worker(celery_worker_live, settings):
    settings.RAW_RETENTION_DAYS = 7
    with connection.cursor() as cursor:
        partitions.ensure(cursor, "monitoring_event", [datetime(2020, 1, 1, tzinfo=UTC).date()])
    created = tasks.upkeep.delay().get(timeout=30)
    assert created["dry_run"] is False
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y%m%d")
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f"monitoring_sample_p{tomorrow}"])
        assert cursor.fetchone()[0]
    dropped = tasks.retention.delay().get(timeout=30)
    assert "monitoring_event_p20200101" in dropped["dropped"]
