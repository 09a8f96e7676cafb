"""Upkeep creates partitions ahead and prunes receipts; retention drops exactly the expired partitions."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection

from monitoring import partitions, upkeep
from monitoring.models import IngestReceipt, Sample

pytestmark = pytest.mark.django_db

RAW = ("monitoring_sample", "monitoring_sample_run", "monitoring_logentry", "monitoring_event")


def _names(table: str) -> list[str]:
    with connection.cursor() as cursor:
        return [name for name, _ in partitions.existing(cursor, table)]


def _make(table: str, days: list[date]) -> None:
    with connection.cursor() as cursor:
        partitions.ensure(cursor, table, days)


def test_upkeep_creates_day_partitions_ahead_for_every_table(settings):
    settings.PARTITION_PREMAKE_DAYS = 3
    now = datetime(2030, 12, 30, 23, 0, tzinfo=UTC)
    report = upkeep.upkeep(now=now)
    for table in RAW:
        assert [n for n in _names(table) if "_p2030" in n or "_p2031" in n] == [
            f"{table}_p20301230",
            f"{table}_p20301231",
            f"{table}_p20310101",
            f"{table}_p20310102",
        ]
    for table in ("monitoring_rollup1m", "monitoring_rollup1h"):
        assert f"{table}_p20301201" in _names(table) and f"{table}_p20310101" in _names(table)
    assert len(report.created) == 4 * 4 + 2 * 2
    assert upkeep.upkeep(now=now).created == []  # twice: nothing more


def test_a_premade_partition_takes_samples(web01, write_samples, settings):
    now = datetime(2030, 6, 1, tzinfo=UTC)
    upkeep.upkeep(now=now)
    write_samples(web01, [("cpu", "usage", {}, now + timedelta(days=2, hours=5), 1.0)])
    assert Sample.objects.filter(ts__gte=now).count() == 1


def test_retention_drops_exactly_the_expired_partitions(settings, web01, write_samples):
    settings.RAW_RETENTION_DAYS = 7
    settings.ROLLUP_RETENTION_DAYS = 400
    settings.ROLLUP_1M_RETENTION_DAYS = 400
    days = [date(2020, 2, 26) + timedelta(days=i) for i in range(14)]  # 2020-02-26 .. 2020-03-10
    for table in RAW:
        _make(table, days)
    months = [date(2018, 12, 1), date(2019, 1, 1), date(2019, 2, 1), date(2019, 3, 1)]
    for table in ("monitoring_rollup1m", "monitoring_rollup1h"):
        _make(table, months)
    write_samples(web01, [("cpu", "usage", {}, datetime(2020, 3, 3, 0, 0, tzinfo=UTC), 1.0)])
    write_samples(web01, [("cpu", "usage", {}, datetime(2020, 3, 2, 23, 59, 59, tzinfo=UTC), 2.0)])

    # cutoff 2020-03-03 12:00 (raw) and 2019-02-04 12:00 (roll-ups)
    report = upkeep.retention(now=datetime(2020, 3, 10, 12, 0, tzinfo=UTC))

    expired = ["20200226", "20200227", "20200228", "20200229", "20200301", "20200302"]
    assert sorted(report.dropped) == sorted(
        [f"{t}_p{d}" for t in RAW for d in expired]
        + [f"{t}_p{m}" for t in ("monitoring_rollup1m", "monitoring_rollup1h") for m in ("20181201", "20190101")]
    )
    for table in RAW:
        kept = [n for n in _names(table) if "_p2020" in n]
        assert kept[0] == f"{table}_p20200303" and kept[-1] == f"{table}_p20200310" and len(kept) == 8
    assert [n[-8:] for n in _names("monitoring_rollup1h") if "_p2019" in n] == ["20190201", "20190301"]
    assert list(Sample.objects.filter(ts__year=2020).values_list("value", flat=True)) == [1.0]
    assert upkeep.retention(now=datetime(2020, 3, 10, 12, 0, tzinfo=UTC)).dropped == []


def test_a_dry_run_changes_nothing(settings):
    settings.RAW_RETENTION_DAYS = 7
    for table in RAW:
        _make(table, [date(2020, 1, 1)])
    report = upkeep.retention(now=datetime(2020, 3, 1, tzinfo=UTC), dry_run=True)
    assert "monitoring_sample_p20200101" in report.dropped
    assert "monitoring_sample_p20200101" in _names("monitoring_sample")
    ahead = upkeep.upkeep(now=datetime(2031, 3, 1, tzinfo=UTC), dry_run=True)
    assert "monitoring_sample_p20310301" in ahead.created
    assert "monitoring_sample_p20310301" not in _names("monitoring_sample")


def test_after_a_drop_the_writer_recreates_the_day(web01, write_samples, settings):
    settings.RAW_RETENTION_DAYS = 7
    ts = datetime(2020, 5, 5, 5, tzinfo=UTC)
    write_samples(web01, [("cpu", "usage", {}, ts, 1.0)])
    upkeep.retention(now=datetime(2020, 6, 1, tzinfo=UTC))
    assert "monitoring_sample_p20200505" not in _names("monitoring_sample")
    write_samples(web01, [("cpu", "usage", {}, ts, 2.0)])
    assert list(Sample.objects.filter(ts=ts).values_list("value", flat=True)) == [2.0]


def test_upkeep_prunes_old_ingest_receipts(settings):
    settings.INGEST_IDEMPOTENCY_SECONDS = 3600
    now = datetime.now(UTC)
    IngestReceipt.objects.create(key="old", created_at=now - timedelta(hours=2))
    IngestReceipt.objects.create(key="new", created_at=now - timedelta(minutes=5))
    assert upkeep.upkeep(now=now).receipts_pruned == 1
    assert list(IngestReceipt.objects.values_list("key", flat=True)) == ["new"]


def test_the_upkeep_command_says_what_it_created_and_dropped(settings):
    settings.RAW_RETENTION_DAYS = 7
    for table in RAW:
        _make(table, [date(2020, 1, 1)])
    out = io.StringIO()
    call_command("upkeep", "--retention", "--dry-run", stdout=out)
    assert "would drop partition monitoring_sample_p20200101" in out.getvalue()
    out = io.StringIO()
    call_command("upkeep", "--retention", stdout=out)
    text = out.getvalue()
    assert "drop partition monitoring_logentry_p20200101" in text and "would" not in text
    assert "roll-ups:" in text


def test_the_upkeep_command_rebuilds_rollups(web01, write_samples):
    write_samples(web01, [("cpu", "usage", {}, datetime.now(UTC) - timedelta(days=2), 1.0)])
    out = io.StringIO()
    call_command("upkeep", "--rebuild-rollups", "3", stdout=out)
    assert "rebuilt 1 minute and 1 hour buckets" in out.getvalue()
    bars = [line for line in out.getvalue().splitlines() if line.startswith("[")]
    assert bars[-1].startswith("[" + "#" * 30 + "] 4/4 days, up to ")  # a day at a time, today included


def test_one_minute_rollups_are_kept_a_month_and_one_hour_rollups_a_year(settings):
    settings.ROLLUP_1M_RETENTION_DAYS = 31
    settings.ROLLUP_RETENTION_DAYS = 365
    months = [date(2030, 5, 1)] + [date(2030 + (m > 12), (m - 1) % 12 + 1, 1) for m in range(6, 19)]
    for table in ("monitoring_rollup1m", "monitoring_rollup1h"):
        _make(table, months)
    upkeep.retention(now=datetime(2031, 6, 15, tzinfo=UTC))
    assert [n[-8:] for n in _names("monitoring_rollup1m") if "_p203" in n] == ["20310501", "20310601"]
    assert [n[-8:] for n in _names("monitoring_rollup1h") if "_p203" in n][0] == "20300601"
