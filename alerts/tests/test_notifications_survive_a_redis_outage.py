"""An alert fires (and resolves) while Redis is down: each message arrives once Redis is back, exactly once.

The worker's broker is a Redis of this test's own, SIGKILLed and started again on the
same port; the worker is a real Celery worker and the webhook a real HTTP receiver. Nothing
is deduplicated on the receiving side: every request and every webhook-id is counted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import orjson
import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.db import connection, transaction
from django.utils import timezone

from alerts import evaluation, tasks
from alerts.choices import AlertState, PageOutcome
from alerts.models import Alert, AlertRule, Delivery, NotificationChannel, Page
from alerts.transports import ID_HEADER
from config.celery import app
from config.embedded import EmbeddedRedis
from config.tests.fixtures import wait_until, write_series
from servers.models import Server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


class OwnRedis:
    """A redis-server for this test alone, that can die and come back on the same port."""

    def __init__(self, folder):
        self.embedded = EmbeddedRedis(folder)
        self.url = self.embedded.ensure_running()
        self.port = self.embedded.port()

    def quiet(self) -> bool:
        """Every task queued was taken and acknowledged (killing Redis now interrupts nothing in flight)."""
        client = redis.Redis.from_url(self.url)
        try:
            return client.llen("celery") == 0 and client.hlen("unacked") == 0
        finally:
            client.close()

    def kill(self) -> None:
        wait_until(self.quiet, timeout=20)
        pid = int((self.embedded.dir / "redis.pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: self.embedded.port() is None, timeout=10)

    def start_again(self) -> None:
        subprocess.run(
            [str(self.embedded.binary), "--bind", "127.0.0.1", "--port", str(self.port), "--daemonize", "yes",
             "--dir", str(self.embedded.dir), "--pidfile", str(self.embedded.dir / "redis.pid"), "--save", ""],
            check=True, capture_output=True,
        )  # fmt: skip
        wait_until(lambda: self.embedded.port() == self.port, timeout=10)


def _point_celery_at(url: str) -> None:
    app.conf.broker_url = url
    app._pool = None  # producers and connections are made again for the new broker
    app.amqp._producer_pool = None


@pytest.fixture
def broker(tmp_path, settings) -> Iterator[OwnRedis]:
    """Celery's broker is a Redis of this test's own, with a real worker consuming from it."""
    settings.NOTIFY_RETRY_BACKOFF_SECONDS = 0.2
    settings.NOTIFY_SWEEP_GRACE_SECONDS = 0
    settings.NOTIFY_WEBHOOK_URL = ""
    redis = OwnRedis(tmp_path)
    saved = app.conf.broker_url, app.conf.task_always_eager
    _point_celery_at(redis.url)
    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, loglevel="WARNING"):
            yield redis
    finally:
        redis.embedded.stop()
        _point_celery_at(saved[0])
        app.conf.task_always_eager = saved[1]


@pytest.fixture
def hook(receiver) -> NotificationChannel:
    return NotificationChannel.objects.create(
        name="ops", kind="webhook", config={"url": receiver.url, "secret": "s3cret"}
    )


def queue_rule() -> AlertRule:
    return AlertRule.objects.create(
        name="queue deep", metric_type="app", metric_name="queue_depth", aggregate="last",
        threshold=100, recovery_threshold=100, window_seconds=60, for_seconds=0,
    )  # fmt: skip


def depth(server: Server, value: float) -> None:
    write_series(server, "app", "queue_depth", [(timezone.now() - timedelta(milliseconds=100), value)])


def sweep_until(receiver, count: int, timeout: float = 60) -> list[dict]:
    """Beat's part: the outbox sweep every half second until the receiver has ``count`` requests."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            tasks.send_pending_pages.delay()
        except Exception:  # the test's own producer may need a moment to find the broker again
            pass
        try:
            return receiver.wait_for(count, timeout=0.5)
        except AssertionError:
            continue
    raise AssertionError(f"expected {count} requests, got {len(receiver.requests)}")


def nothing_owed() -> bool:
    return not Page.objects.filter(outcome=PageOutcome.SENT, dispatched_at__isnull=True).exists()


def test_an_alert_that_fires_and_resolves_while_redis_is_down_is_notified_once_each_when_redis_is_back(
    broker, hook, receiver
):
    server = Server.objects.create(hostname="app-01")
    rule = queue_rule()
    depth(server, 500)

    broker.kill()
    fired = evaluation.evaluate_rules([rule.pk])  # the round runs while Redis is down, and is not failed by it
    assert [(o.fired, o.error) for o in fired] == [(1, "")]
    alert = Alert.objects.get()
    assert alert.state == AlertState.FIRING
    owed = Page.objects.get(alert=alert)
    assert (owed.kind, owed.outcome, owed.dispatched_at) == ("firing", PageOutcome.SENT, None)
    assert receiver.requests == []

    broker.start_again()
    sweep_until(receiver, 1)
    wait_until(nothing_owed, timeout=20)
    wait_until(lambda: Delivery.objects.filter(alert=alert, kind="firing").exists(), timeout=20)
    assert tasks.send_pending_pages.apply().get() == 0  # a later sweep owes nothing

    depth(server, 3)
    broker.kill()
    resolved = evaluation.evaluate_rules([rule.pk])
    assert [(o.resolved, o.error) for o in resolved] == [(1, "")]
    broker.start_again()
    sweep_until(receiver, 2)
    wait_until(nothing_owed, timeout=20)
    wait_until(lambda: Delivery.objects.filter(alert=alert, kind="resolved").exists(), timeout=20)
    assert tasks.send_pending_pages.apply().get() == 0

    bodies = [orjson.loads(r["body"]) for r in receiver.requests]
    assert [b["kind"] for b in bodies] == ["firing", "resolved"]
    assert len({r["headers"][ID_HEADER] for r in receiver.requests}) == 2
    assert sorted(Delivery.objects.filter(alert=alert).values_list("kind", "status")) == [
        ("firing", "sent"),
        ("resolved", "sent"),
    ]


def test_a_page_taken_twice_reaches_its_channel_once(broker, hook, receiver):
    server = Server.objects.create(hostname="app-01")
    rule = queue_rule()
    depth(server, 500)
    evaluation.evaluate_rules([rule.pk])  # Redis is up: the worker sends it at once
    receiver.wait_for(1)
    page = Page.objects.get(kind="firing")
    wait_until(lambda: Delivery.objects.filter(alert=page.alert_id).exists(), timeout=20)

    # a late copy of the task queued at commit, a sweep, and a second delivery task of the same page
    assert tasks.notify_alert.apply(args=[page.alert_id, "firing", page.pk]).get() == 0
    assert tasks.send_pending_pages.apply().get() == 0
    assert tasks.deliver.apply(args=[hook.pk, page.alert_id, "firing", page.pk]).get() == "duplicate"

    assert len(receiver.requests) == 1
    assert Delivery.objects.filter(alert=page.alert_id).count() == 1


def test_a_sweep_skips_a_page_another_sweep_is_taking(broker, hook, receiver):
    server = Server.objects.create(hostname="app-01")
    rule = queue_rule()
    depth(server, 500)
    broker.kill()
    evaluation.evaluate_rules([rule.pk])
    broker.start_again()
    page = Page.objects.get(kind="firing", dispatched_at__isnull=True)

    taking, done = threading.Event(), threading.Event()

    def another_sweep_holds_the_page():
        with transaction.atomic():
            Page.objects.select_for_update().get(pk=page.pk)
            taking.set()
            done.wait(20)
        connection.close()

    holder = threading.Thread(target=another_sweep_holds_the_page)
    holder.start()
    try:
        assert taking.wait(10)
        assert tasks.send_pending_pages.apply().get() == 0  # locked: skipped, not waited for, not sent
    finally:
        done.set()
        holder.join()
    assert tasks.send_pending_pages.apply().get() == 1
    assert tasks.send_pending_pages.apply().get() == 0
    receiver.wait_for(1)
    wait_until(lambda: Delivery.objects.filter(alert=page.alert_id).exists(), timeout=20)
    assert len(receiver.requests) == 1
