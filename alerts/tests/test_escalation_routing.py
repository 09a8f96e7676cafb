"""Which channels hear a message is decided on the evaluation's clock, not when the worker gets to it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts import notify, paging
from alerts.choices import MessageKind
from alerts.evaluation import evaluate
from alerts.models import Alert, AlertRule, NotificationChannel, NotificationPolicy, Page
from config.tests.fixtures import write_series
from servers.models import Server

pytestmark = pytest.mark.django_db


def test_a_reminder_decided_before_the_escalation_is_sent_to_the_first_channel_only():
    ops = NotificationChannel.objects.create(name="ops", kind="webhook", config={"url": "https://ops.example/hook"})
    pager = NotificationChannel.objects.create(name="pager", kind="webhook", config={"url": "https://pg.example/h"})
    policy = NotificationPolicy.objects.create(name="p", repeat_minutes=5, escalate_after_minutes=12, escalate_to=pager)
    server = Server.objects.create(hostname="db-01")
    rule = AlertRule.objects.create(name="cpu hot", metric_type="system", metric_name="cpu_usage", aggregate="last",
                                    threshold=90, for_seconds=0, policy=policy)  # fmt: skip
    start = paging.hour_of(timezone.now()) - timedelta(hours=2)
    for minute in range(16):
        now = start + timedelta(minutes=minute)
        write_series(server, "system", "cpu_usage", [(now - timedelta(seconds=1), 99.0)])
        evaluate(rule, now)
    # a busy worker reaches the minute-10 reminder only now, after the minute-12 escalation
    alert = Alert.objects.get(rule=rule)
    assert alert.escalated_at == start + timedelta(minutes=12)
    reminders = Page.objects.filter(alert=alert, kind=MessageKind.REMINDER).order_by("at")
    assert [p.at - start for p in reminders] == [timedelta(minutes=m) for m in (5, 10, 15)]
    assert notify.channels_for(alert, MessageKind.REMINDER, reminders[1]) == [ops]
    assert sorted(c.name for c in notify.channels_for(alert, MessageKind.REMINDER, reminders[2])) == ["ops", "pager"]
