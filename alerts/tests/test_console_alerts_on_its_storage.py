"""The console alerts on itself when its storage fills within a week at today's rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.evaluation import evaluate
from alerts.models import Alert
from alerts.provisioning import ensure_storage_rules
from config.tests.fixtures import write_series
from monitoring import capacity
from servers.enrolment import self_monitor_hostname
from servers.models import Server

pytestmark = pytest.mark.django_db


def _ingesting() -> None:
    server = Server.objects.create(hostname="busy-host")
    now = datetime.now(UTC)
    for core in range(20):
        write_series(
            server, "cpu", "usage", [(now - timedelta(seconds=10 * t + 1), 1.0) for t in range(60)], {"core": str(core)}
        )


def test_the_console_alerts_on_itself_when_its_cap_is_days_away(settings):
    _ingesting()
    days_rule, disk_rule = ensure_storage_rules()
    settings.STORAGE_MAX_BYTES = capacity.report().database_bytes + 2 * 1024 * 1024
    report = capacity.report()
    assert report.days_left is not None and report.days_left < 7
    capacity.publish(report)

    evaluate(days_rule, datetime.now(UTC) + timedelta(seconds=1))

    (alert,) = Alert.objects.filter(rule=days_rule)
    assert alert.state == "firing"
    assert alert.server.hostname == self_monitor_hostname()  # the console's own host
    assert "storage is full in" in alert.summary
    if report.disk_free_percent is not None and report.disk_free_percent >= 10:
        evaluate(disk_rule, datetime.now(UTC) + timedelta(seconds=1))
        assert not Alert.objects.filter(rule=disk_rule).exists()


def test_no_alert_while_the_cap_is_far(settings):
    _ingesting()
    days_rule, _ = ensure_storage_rules()
    settings.STORAGE_MAX_BYTES = None
    report = capacity.report()
    capacity.publish(report)
    if report.days_left is not None:
        pytest.skip("this machine's disk fills within the horizon at this rate")
    evaluate(days_rule, datetime.now(UTC) + timedelta(seconds=1))
    assert not Alert.objects.filter(rule=days_rule).exists()
