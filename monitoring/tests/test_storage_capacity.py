"""People see what the store holds and when it fills; over the size cap, the oldest data goes first."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection

from monitoring import capacity, partitions, rollups, upkeep
from monitoring.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def ingesting(web01, write_samples):
    """Ten minutes of 20 series every 10 s (2 samples/s), and three old days already held as rows."""
    now = datetime.now(UTC)
    batch = []
    for tick in range(60):
        ts = now - timedelta(seconds=10 * tick + 1)
        batch += [("cpu", "usage", {"core": str(core)}, ts, 10.0 + core) for core in range(20)]
    write_samples(web01, batch)
    for back in (3, 4, 5):
        write_samples(web01, [("cpu", "usage", {"core": "0"}, now - timedelta(days=back), 1.0)])
    return now


def test_manage_py_storage_shows_each_layer_the_rate_and_when_the_cap_fills(ingesting, settings):
    upkeep.upkeep()  # roll-ups, and the three old days compacted
    settings.STORAGE_MAX_BYTES = capacity.report().database_bytes + 3 * 1024 * 1024
    out = io.StringIO()
    call_command("storage", stdout=out)
    text = out.getvalue()
    assert "compacted days (chunks)" in text and "1-minute roll-ups" in text and "1-hour roll-ups" in text
    assert "ingest now: 2 samples/s from 20 series" in text
    assert "at this rate the size cap is reached on" in text
    assert "warning: at today's rate the size cap is reached in" in text

    report = capacity.report()
    layers = {layer.key: layer for layer in report.layers}
    assert layers["compacted"].days == 3 and layers["compacted"].samples == 3
    assert layers["runs"].samples == 20 * 60  # one request of 60 scrapes: a run per series
    assert 0 < report.days_left < 7
    sizes = [size for _, size in report.projection]
    assert sizes == sorted(sizes) and len(sizes) == capacity.HORIZON_DAYS + 1


def test_without_a_cap_nothing_fills_within_the_horizon_on_a_roomy_disk(ingesting, settings):
    settings.STORAGE_MAX_BYTES = None
    report = capacity.report()
    if report.disk_free is not None and report.disk_free < 10 * 1024**3:
        pytest.skip("this machine's disk is too full for the assertion")
    assert report.cap_day is None and report.disk_full_day is None and report.days_left is None
    assert report.warnings == []


def _days_held() -> list[date]:
    with connection.cursor() as cursor:
        return [day for _, day in partitions.existing(cursor, "monitoring_sample") if day < date.today()]


def test_over_the_size_cap_retention_drops_the_oldest_raw_day_first_and_says_so(ingesting, settings):
    upkeep.upkeep()
    oldest = min(_days_held())
    settings.STORAGE_MAX_BYTES = capacity.report().database_bytes - 1  # one byte over: one day goes
    report = upkeep.retention()
    assert all(name.endswith(f"_p{oldest:%Y%m%d}") for name in report.capped)
    assert partitions.partition_name("monitoring_sample", oldest) in report.capped
    assert partitions.partition_name("monitoring_sample_chunk", oldest) in report.capped
    assert oldest not in _days_held()
    assert any("over STORAGE_MAX_BYTES" in line for line in report.lines())
    (event,) = Event.objects.filter(source="console", event_type="storage_cap")
    assert event.data["dropped"] == report.capped


def test_a_cap_below_everything_drops_raw_days_then_old_minute_rollups_never_today(ingesting, settings):
    old_month = (date.today().replace(day=1) - timedelta(days=40)).replace(day=1)
    with connection.cursor() as cursor:
        partitions.ensure(cursor, rollups.MINUTE_TABLE, [old_month])
    settings.ROLLUP_1M_RETENTION_DAYS = 400  # kept by age: only the cap may drop it
    settings.STORAGE_MAX_BYTES = 1
    report = upkeep.retention(dry_run=True)
    assert report.capped[-1] == partitions.partition_name(rollups.MINUTE_TABLE, old_month)
    assert _days_held()  # a dry run drops nothing
    report = upkeep.retention()
    assert _days_held() == []
    assert not any(name.endswith(f"{date.today():%Y%m%d}") for name in report.capped)
    assert partitions.partition_name(rollups.MINUTE_TABLE, old_month) in report.capped
    with connection.cursor() as cursor:
        assert all(day >= date.today().replace(day=1) for _, day in partitions.existing(cursor, rollups.MINUTE_TABLE))


def test_the_storage_page_shows_each_layer_and_the_projection(client, bob, ingesting, settings):
    settings.STORAGE_MAX_BYTES = 10 * 1024**4
    client.force_login(bob)
    page = client.get("/console/storage").content.decode()
    for label in ("samples of open days (rows)", "compacted days (chunks)", "1-minute roll-ups", "1-hour roll-ups"):
        assert label in page
    assert '<polyline fill="none"' in page and "size cap" in page
    assert "samples/s now" in page
