"""A notification policy repeats an alert until someone acknowledges it, and escalates to a second channel.

Evaluation runs on an injected clock (a minute a round); the messages go through
the real Celery worker to real webhook receivers.
"""

from datetime import timedelta

import orjson
import pytest
from django.utils import timezone

from alerts import paging
from alerts.choices import PageOutcome
from alerts.evaluation import evaluate
from alerts.models import Alert, AlertRule, Delivery, NotificationChannel, NotificationPolicy, Page
from config.tests.fixtures import wait_until, write_series
from servers.models import Server

# real worker, real time: seconds each (left out of the PgBouncer re-run of the suite)
pytestmark = [pytest.mark.usefixtures("celery_worker_live"), pytest.mark.slow]


@pytest.fixture
def channels(receiver, settings):
    settings.NOTIFY_WEBHOOK_URL = settings.NOTIFY_SLACK_WEBHOOK_URL = ""
    settings.NOTIFY_EMAIL_TO = []
    ops = NotificationChannel.objects.create(name="ops", kind="webhook", config={"url": receiver.url + "/ops"})
    pager = NotificationChannel.objects.create(name="pager", kind="webhook", config={"url": receiver.url + "/pager"})
    return ops, pager


def delivered(receiver, count: int) -> list[tuple[str, str]]:
    """The (channel, kind) of what arrived once ``count`` messages have, and every queued delivery is done."""
    receiver.wait_for(count, timeout=30)
    wait_until(lambda: not Delivery.objects.exclude(status="sent").exists() and Delivery.objects.count() >= count)
    return [(r["path"].rsplit("/", 1)[-1], orjson.loads(r["body"])["kind"]) for r in receiver.requests]


def run_minutes(rule, server, start, minutes, acknowledge_at=None, who=None):
    for minute in range(minutes + 1):
        now = start + timedelta(minutes=minute)
        write_series(server, "system", "cpu_usage", [(now - timedelta(seconds=1), 99.0)])
        if acknowledge_at is not None and minute == acknowledge_at:
            Alert.objects.get(rule=rule).acknowledge(who)
        evaluate(rule, now)


@pytest.fixture
def start():
    return paging.hour_of(timezone.now()) - timedelta(hours=2)


def test_an_unacknowledged_alert_repeats_then_escalates_until_bob_acknowledges(channels, receiver, start, bob):
    ops, pager = channels
    policy = NotificationPolicy.objects.create(
        name="pager after 12 min", repeat_minutes=5, escalate_after_minutes=12, escalate_to=pager
    )
    server = Server.objects.create(hostname="db-01")
    rule = AlertRule.objects.create(name="cpu hot", metric_type="system", metric_name="cpu_usage", aggregate="last",
                                    threshold=90, for_seconds=0, policy=policy)  # fmt: skip
    run_minutes(rule, server, start, 25, acknowledge_at=16, who=bob)
    # deliveries of one minute may overtake each other: compare what arrived, not in which order
    expected = sorted(
        [
            ("ops", "firing"),  # minute 0
            ("ops", "reminder"),  # 5
            ("ops", "reminder"),  # 10
            ("pager", "escalation"),  # 12: the second channel hears of it only now
            ("ops", "reminder"),  # 15: from now on both channels
            ("pager", "reminder"),
        ]  # 16: bob acknowledges; 20 and 25 stay quiet
    )
    assert sorted(delivered(receiver, len(expected))) == expected
    assert Page.objects.filter(outcome=PageOutcome.SENT).count() == 5  # the minute-15 reminder went to two channels
    alert = Alert.objects.get(rule=rule)
    assert alert.escalated_at == start + timedelta(minutes=12)
    assert alert.transitions.filter(note="acknowledged by bob").exists()


def test_the_default_policy_applies_to_rules_without_one(channels, receiver, start):
    ops, pager = channels
    NotificationPolicy.objects.create(name="default", is_default=True, escalate_after_minutes=3, escalate_to=pager)
    server = Server.objects.create(hostname="db-02")
    rule = AlertRule.objects.create(name="cpu hot", metric_type="system", metric_name="cpu_usage", aggregate="last",
                                    threshold=90, for_seconds=0)  # fmt: skip
    run_minutes(rule, server, start, 4)
    assert sorted(delivered(receiver, 2)) == [("ops", "firing"), ("pager", "escalation")]
