"""Notifications that arrive: a real Celery worker sends to a real HTTP receiver on 127.0.0.1."""

from datetime import timedelta

import orjson
import pytest
from django.core import mail
from django.utils import timezone

from alerts import evaluation, notify, tasks
from alerts.choices import AlertState, DeliveryStatus, MessageKind
from alerts.models import (
    Alert,
    AlertRule,
    AlertTransition,
    Delivery,
    Notification,
    NotificationChannel,
    Page,
    Silence,
)
from alerts.transports import verify_webhook
from config.tests.fixtures import wait_until, write_series, write_service_logs
from servers.models import Server

pytestmark = pytest.mark.usefixtures("celery_worker_live")

SECRET = "s3cret-for-tests"


@pytest.fixture
def quick(settings):
    settings.NOTIFY_RETRY_BACKOFF_SECONDS = 0.2
    settings.NOTIFY_TIMEOUT_SECONDS = 3
    settings.NOTIFY_WEBHOOK_URL = ""
    settings.NOTIFY_SLACK_WEBHOOK_URL = ""
    settings.NOTIFY_EMAIL_TO = []
    return settings


@pytest.fixture
def hook(receiver, quick):
    return NotificationChannel.objects.create(
        name="ops webhook", kind="webhook", config={"url": receiver.url, "secret": SECRET}
    )


@pytest.fixture
def server(transactional_db):
    return Server.objects.create(hostname="app-01", labels={"role": "app"})


def queue_rule(**kw):
    fields = dict(
        name="queue deep",
        metric_type="app",
        metric_name="queue_depth",
        aggregate="last",
        threshold=100,
        window_seconds=60,
        for_seconds=0,
        summary="queue {value:.0f} on {server}",
    )
    fields.update(kw)
    return AlertRule.objects.create(**fields)


def depth(server, value, at=None):
    """web-01's agent reports the queue depth (now, or at the test's clock)."""
    write_series(server, "app", "queue_depth", [((at or timezone.now()) - timedelta(milliseconds=100), value)])


def evaluate_at(rule, server, at):
    """The agent keeps reporting, and a round runs, at the test's clock ``at`` (no waiting for it)."""
    depth(server, 500, at)
    evaluation.evaluate(rule, at)


def bodies(receiver):
    return [orjson.loads(r["body"]) for r in receiver.requests]


def test_webhook_arrives_signed_on_fire_and_again_on_resolve(server, hook, receiver):
    queue_rule()
    depth(server, 500)
    tasks.evaluate_rules.delay()
    first = receiver.wait_for(1)[0]
    assert verify_webhook(SECRET, first["headers"], first["body"])
    assert not verify_webhook("wrong", first["headers"], first["body"])
    fired = bodies(receiver)[0]
    assert fired["kind"] == "firing" and fired["alert"]["server"] == "app-01"
    assert fired["alert"]["summary"] == "queue 500 on app-01"
    depth(server, 3)
    tasks.evaluate_rules.delay()
    receiver.wait_for(2)
    resolved = bodies(receiver)[1]
    assert resolved["kind"] == "resolved" and resolved["alert"]["state"] == "resolved"
    deliveries = wait_until(lambda: list(Delivery.objects.filter(status=DeliveryStatus.SENT)) or None)
    assert {d.response_code for d in deliveries} == {200}
    assert [n.level for n in Notification.objects.order_by("created_at")] == ["warning", "success"]


def test_a_threshold_with_for_fires_only_after_the_duration(server, hook, receiver):
    rule = queue_rule(for_seconds=300)
    start = timezone.now()
    evaluate_at(rule, server, start)
    evaluate_at(rule, server, start + timedelta(minutes=4))
    assert Alert.objects.get().state == AlertState.PENDING
    assert not Page.objects.exists()  # no message decided, so none queued (the pages ledger is the only way out)
    evaluate_at(rule, server, start + timedelta(minutes=5))
    receiver.wait_for(1)
    alert = Alert.objects.get()
    assert alert.state == AlertState.FIRING and alert.fired_at - alert.started_at == timedelta(minutes=5)
    assert bodies(receiver)[0]["kind"] == "firing"


def test_a_500_from_the_receiver_is_retried_with_backoff(server, hook, receiver):
    receiver.codes = [500, 503]
    queue_rule()
    depth(server, 500)
    tasks.evaluate_rules.delay()
    requests = receiver.wait_for(3)
    assert [r["code"] for r in requests] == [500, 503, 200]
    assert requests[2]["at"] - requests[1]["at"] >= requests[1]["at"] - requests[0]["at"] - 0.05  # backoff grows
    attempts = wait_until(lambda: list(Delivery.objects.order_by("attempt")) if Delivery.objects.count() == 3 else None)
    assert [(d.attempt, d.status, d.response_code) for d in attempts] == [
        (1, "retrying", 500),
        (2, "retrying", 503),
        (3, "sent", 200),
    ]
    assert all(d.latency_ms is not None for d in attempts)
    # one delivery, one id on every attempt: the receiver can drop a retried duplicate
    ids = {r["headers"]["webhook-id"] for r in requests}
    assert len(ids) == 1 and {d.message_id for d in attempts} == ids


def test_a_400_from_the_receiver_is_not_retried(server, hook, receiver):
    receiver.codes = [400]
    queue_rule()
    depth(server, 500)
    tasks.evaluate_rules.delay()
    receiver.wait_for(1)
    failed = wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.FAILED).first())
    assert failed.response_code == 400 and failed.attempt == 1
    # a delivery is recorded before its retry is scheduled, and "failed" is final: none is
    assert Delivery.objects.count() == 1
    assert len(receiver.requests) == 1


def test_an_unreachable_receiver_gives_up_after_max_attempts(server, quick):
    quick.NOTIFY_MAX_ATTEMPTS = 2
    NotificationChannel.objects.create(name="nowhere", kind="webhook", config={"url": "http://127.0.0.1:9/hook"})
    queue_rule()
    depth(server, 500)
    tasks.evaluate_rules.delay()
    wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.FAILED).exists())
    assert [d.status for d in Delivery.objects.order_by("attempt")] == ["retrying", "failed"]
    assert "connection failed" in Delivery.objects.get(attempt=2).error


def _until_held_back() -> None:
    """The notification task notes a held-back message in the alert's history, then queues no delivery."""
    wait_until(lambda: AlertTransition.objects.filter(note__contains="muted by").exists())
    assert not Delivery.objects.exists()


def test_a_silence_mutes_notifications_but_the_alert_stays_visible(server, hook, receiver, alice):
    Silence.objects.create(
        matchers={"server": "app-01"},
        ends_at=timezone.now() + timedelta(hours=1),
        comment="deploying",
        created_by=alice,
    )
    queue_rule()
    depth(server, 500)
    tasks.evaluate_rules.delay()
    notice = wait_until(lambda: Notification.objects.first())
    assert notice.metadata["muted"].startswith("silence #")
    _until_held_back()
    assert receiver.requests == []
    assert Alert.objects.get().state == AlertState.FIRING


def test_maintenance_mutes_notifications_of_that_server(server, hook, receiver):
    Server.objects.filter(pk=server.pk).update(maintenance_until=timezone.now() + timedelta(hours=1))
    queue_rule()
    depth(server, 500)
    tasks.evaluate_rules.delay()
    notice = wait_until(lambda: Notification.objects.first())
    assert notice.metadata["muted"].startswith("maintenance")
    _until_held_back()
    assert receiver.requests == []


def test_a_firing_alert_is_repeated_every_repeat_interval_until_acknowledged(server, hook, receiver, quick, bob):
    quick.REPEAT_INTERVAL = 3600
    rule = queue_rule()
    start = timezone.now()
    evaluate_at(rule, server, start)
    receiver.wait_for(1)
    evaluate_at(rule, server, start + timedelta(minutes=30))
    evaluate_at(rule, server, start + timedelta(minutes=61))
    receiver.wait_for(2)
    assert [b["kind"] for b in bodies(receiver)] == ["firing", "reminder"]
    Alert.objects.get().acknowledge(bob)
    evaluate_at(rule, server, start + timedelta(minutes=125))
    # no reminder decided after the acknowledgement, so none queued (the pages ledger is the only way out)
    assert list(Page.objects.order_by("at").values_list("kind", flat=True)) == ["firing", "reminder"]
    assert [b["kind"] for b in bodies(receiver)] == ["firing", "reminder"]


def test_routing_by_severity_and_labels(server, receiver, quick):
    NotificationChannel.objects.create(
        name="pager", kind="webhook", config={"url": receiver.url + "/pager"}, min_severity="critical"
    )
    NotificationChannel.objects.create(
        name="app team", kind="webhook", config={"url": receiver.url + "/team"}, label_matchers={"team": "app"}
    )
    queue_rule(labels={"team": "app"})
    depth(server, 500)
    tasks.evaluate_rules.delay()
    assert [r["path"] for r in receiver.wait_for(1)] == ["/hook/team"]
    # the one message's channels, as the worker chose them: the pager is not among them
    alert = Alert.objects.select_related("rule").get()
    assert [c.name for c in notify.channels_for(alert, MessageKind.FIRING)] == ["app team"]
    assert set(Delivery.objects.values_list("channel__name", flat=True)) <= {"app team"}


def test_slack_and_email_channels_from_the_environment(server, receiver, quick):
    quick.NOTIFY_SLACK_WEBHOOK_URL = receiver.url + "/slack"
    quick.NOTIFY_EMAIL_TO = ["ops@example.com"]
    quick.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    queue_rule()
    depth(server, 500)
    tasks.evaluate_rules.delay()
    slack = orjson.loads(receiver.wait_for(1)[0]["body"])
    assert slack["text"].startswith("[FIRING] [warning] queue 500 on app-01")
    wait_until(lambda: len(mail.outbox) == 1)
    assert mail.outbox[0].to == ["ops@example.com"] and "queue 500" in mail.outbox[0].subject
    assert set(NotificationChannel.objects.values_list("provisioned", flat=True)) == {
        "NOTIFY_SLACK_WEBHOOK_URL",
        "NOTIFY_EMAIL_TO",
    }


def test_alice_sends_a_test_notification_from_admin(client, alice, hook, receiver):
    client.force_login(alice)
    response = client.post(
        "/admin/alerts/notificationchannel/",
        {"action": "send_test_notification", "_selected_action": [hook.pk]},
    )
    assert response.status_code == 302
    request = receiver.wait_for(1)[0]
    assert orjson.loads(request["body"])["kind"] == "test"
    assert verify_webhook(SECRET, request["headers"], request["body"])
    sent = wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.SENT).first())
    assert sent.kind == "test" and sent.alert is None


def test_a_silent_agent_pages(server, hook, receiver):
    AlertRule.objects.create(name="agent silent", kind="absence", window_seconds=60, severity="critical")
    Server.objects.filter(pk=server.pk).update(last_seen=timezone.now() - timedelta(minutes=10))
    tasks.evaluate_rules.delay()
    fired = orjson.loads(receiver.wait_for(1)[0]["body"])
    assert fired["kind"] == "firing" and fired["alert"]["rule"] == "agent silent"
    assert fired["alert"]["server"] == "app-01" and fired["alert"]["severity"] == "critical"


def test_a_log_error_rate_above_five_percent_pages(server, hook, receiver):
    AlertRule.objects.create(name="api errors", kind="log_error_rate", service="api", threshold=5, for_seconds=0,
                             window_seconds=300, summary="{value:.0f}% errors in {service} on {server}")  # fmt: skip
    now = timezone.now()
    lines = [(now - timedelta(seconds=i), "ERROR" if i % 10 == 0 else "INFO", "x") for i in range(1, 41)]
    write_service_logs(server, "api", lines)
    tasks.evaluate_rules.delay()
    # the built-in seed 004 error-rate rule pages too (its own message); ours is among them
    wait_until(lambda: any(b["alert"]["rule"] == "api errors" for b in bodies(receiver)))
    fired = next(b for b in bodies(receiver) if b["alert"]["rule"] == "api errors")
    assert fired["alert"]["summary"] == "10% errors in api on app-01"
