"""An alert fires while Redis is down: its notification arrives once Redis is back, exactly once.

The worker's broker is a Redis of this test's own, killed with SIGKILL and started again on
the same port; the webhook is a real HTTP receiver.
"""

import os
import signal
import subprocess
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from alerts import evaluation, tasks
from alerts.models import AlertRule, NotificationChannel, PendingNotification
from alerts.tests.conftest import wait_until, write_samples
from config.celery import app
from config.embedded import EmbeddedRedis
from servers.models import Server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


class OwnRedis:
    """A redis-server for this test alone, that can die and come back on the same port."""

    def __init__(self, folder):
        self.embedded = EmbeddedRedis(folder)
        self.url = self.embedded.ensure_running()
        self.port = self.embedded.port()

    def kill(self) -> None:
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


@pytest.fixture
def broker(tmp_path):
    """Celery's broker pointed at a Redis of this test's own, with a worker consuming from it."""
    redis = OwnRedis(tmp_path)
    saved = app.conf.broker_url, app.conf.task_always_eager
    app.conf.broker_url, app.conf.task_always_eager = redis.url, False
    app.amqp._producer_pool = None  # producers connect to the new broker
    try:
        with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, loglevel="WARNING"):
            yield redis
    finally:
        redis.embedded.stop()
        app.conf.broker_url, app.conf.task_always_eager = saved
        app.amqp._producer_pool = None


def test_an_alert_that_fires_while_redis_is_down_is_notified_once_redis_is_back(broker, receiver, settings):
    settings.NOTIFY_RETRY_BACKOFF_SECONDS = 0.2
    NotificationChannel.objects.create(name="ops", kind="webhook", config={"url": receiver.url})
    server = Server.objects.create(hostname="app-01")
    AlertRule.objects.create(
        name="queue deep", metric_type="app", metric_name="queue_depth", aggregate="last",
        threshold=100, window_seconds=60, for_seconds=0,
    )  # fmt: skip
    write_samples(server, "app", "queue_depth", [(timezone.now() - timedelta(milliseconds=100), 500)])

    broker.kill()
    evaluation.evaluate_rules()  # the round runs (here, in this process) while Redis is down

    owed = PendingNotification.objects.get()
    assert owed.kind == "firing" and owed.sent_at is None
    assert receiver.requests == []

    broker.start_again()
    tasks.send_notifications.delay()  # the periodic sweep, as beat sends it

    assert len(receiver.wait_for(1, timeout=60)) == 1
    wait_until(lambda: PendingNotification.objects.filter(sent_at__isnull=True).count() == 0, timeout=10)
    assert tasks.send_notifications.apply().get() == 0  # a later sweep owes nothing: no second message
    assert [r["code"] for r in receiver.requests] == [200]
