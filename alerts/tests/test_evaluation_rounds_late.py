"""How late the evaluation rounds are: one reading (alerts.health.round_age) for /health, /metrics and the page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts import evaluation, health, provisioning
from alerts.choices import ConsoleCheck, RuleKind
from alerts.models import AlertRule

pytestmark = pytest.mark.django_db


def a_rule(name: str, **fields) -> AlertRule:
    return AlertRule.objects.create(**{"name": name, "metric_type": "cpu", "metric_name": "usage", **fields})


def test_the_age_is_that_of_the_latest_rule_a_round_evaluated():
    now = timezone.now()
    assert health.round_age(now) is None  # no round yet
    a_rule("cpu", last_evaluated_at=now - timedelta(seconds=70))
    a_rule("ram", last_evaluated_at=now - timedelta(seconds=40))
    # neither a disabled rule nor the console's own rules (they run on their own schedule) say a round ran
    a_rule("off", enabled=False, last_evaluated_at=now)
    a_rule("watcher", kind=RuleKind.CONSOLE, metric_name=ConsoleCheck.ROUND_AGE, last_evaluated_at=now)
    assert health.round_age(now) == pytest.approx(40)
    assert health.round_age(now + timedelta(seconds=5)) == pytest.approx(45)


def test_health_metrics_and_the_built_in_rule_read_the_same_age(client, bob, settings):
    settings.ALERT_EVAL_INTERVAL_SECONDS = 10
    provisioning.ensure_builtin_rules()
    AlertRule.objects.exclude(kind=RuleKind.CONSOLE).update(last_evaluated_at=timezone.now() - timedelta(minutes=5))
    now = timezone.now()

    watcher = AlertRule.objects.get(builtin="round_age")
    [observed] = evaluation.observe(watcher, now)
    assert observed.value == pytest.approx(health.round_age(now)) and 299 < observed.value < 310

    client.force_login(bob)
    check = client.get("/health").json()["checks"]["evaluation"]
    assert check["status"] == "stale" and 299 < check["age_seconds"] < 310
    assert check["limit_seconds"] == health.late_after() == 30

    metrics = client.get("/metrics").content.decode()
    [line] = [x for x in metrics.splitlines() if x.startswith("console_evaluation_last_round_age_seconds ")]
    assert 299 < float(line.split()[1]) < 310
