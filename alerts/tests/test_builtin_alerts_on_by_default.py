"""Seed 004's alerts and the console watching itself exist and page without anyone creating a rule.

A real Celery worker runs the rounds the test queues (beat's job) and a real
receiver takes the webhooks; windows are shortened through settings.
"""

from datetime import timedelta

import orjson
import pytest
from django.utils import timezone

from alerts import tasks
from alerts.models import AlertRule, NotificationChannel
from config.tests.fixtures import wait_until, write_service_logs
from servers.choices import ServerKind
from servers.models import Server

# real worker, real time: seconds each (left out of the PgBouncer re-run of the suite)
pytestmark = [pytest.mark.usefixtures("celery_worker_live"), pytest.mark.slow]


@pytest.fixture
def hook(receiver, settings):
    settings.NOTIFY_WEBHOOK_URL = settings.NOTIFY_SLACK_WEBHOOK_URL = ""
    settings.NOTIFY_EMAIL_TO = []
    return NotificationChannel.objects.create(name="ops", kind="webhook", config={"url": receiver.url})


def paged(receiver, rule_name, timeout=25):
    """Queue rounds (as beat would) until a message about ``rule_name`` arrived; answer its body."""

    def arrived():
        tasks.evaluate_rules.delay()
        for request in receiver.requests:
            body = orjson.loads(request["body"])
            if body["alert"] and body["alert"]["rule"] == rule_name:
                return body
        return None

    return wait_until(arrived, timeout=timeout, step=0.5)


def service(name, **kw):
    return Server.objects.create(hostname=name, kind=ServerKind.SERVICE, **kw)


def test_the_built_in_rules_exist_after_the_first_round(hook):
    tasks.evaluate_rules.delay()
    ours = {"cpu", "host_down", "service_error_rate", "service_silent", "critical_log", "ingest_lag", "round_age"}
    wait_until(lambda: ours <= set(AlertRule.objects.filter(enabled=True).values_list("builtin", flat=True)))


def test_a_service_logging_ten_percent_errors_pages(hook, receiver):
    billing = service("billing")
    now = timezone.now()
    lines = [(now - timedelta(seconds=i), "ERROR" if i % 10 == 0 else "INFO", "x") for i in range(1, 41)]
    write_service_logs(billing, "billing", lines)
    body = paged(receiver, "Service error rate above 5 % (built-in)")
    assert body["alert"]["summary"] == "10.0 % errors in billing over 5 min"


def test_a_registered_service_that_stops_logging_pages(hook, receiver, settings):
    settings.SERVICE_SILENT_SECONDS = 2
    service("payments")  # registered now, never logs
    body = paged(receiver, "Service sends no logs (built-in)")
    assert body["alert"]["labels"]["service"] == "payments" and body["alert"]["severity"] == "warning"


def test_any_critical_log_line_pages(hook, receiver):
    web = Server.objects.create(hostname="web-01")
    write_service_logs(web, "checkout", [(timezone.now() - timedelta(seconds=1), "CRITICAL", "database unreachable")])
    body = paged(receiver, "CRITICAL log line (built-in)")
    assert body["alert"]["severity"] == "critical" and body["alert"]["labels"]["service"] == "checkout"


def test_the_console_pages_when_stored_data_lags_behind(hook, receiver, agent):
    late = {"host": "web-01", "timestamp": (timezone.now() - timedelta(seconds=95)).isoformat(),
            "metrics": {"cpu_usage": 12.0}}  # fmt: skip
    assert agent.post("/ingest", orjson.dumps(late), content_type="application/json").status_code == 200
    body = paged(receiver, "Console: ingest-to-stored lag (built-in)")
    assert body["alert"]["server"] is None and body["alert"]["value"] >= 90


def test_the_console_pages_when_evaluation_rounds_stop(hook, receiver, settings):
    settings.ALERT_EVAL_INTERVAL_SECONDS = 1  # three intervals: 3 s
    tasks.evaluate_rules.delay()
    wait_until(lambda: AlertRule.objects.filter(builtin="cpu", last_evaluated_at__isnull=False).exists())
    # the rounds stop (a stuck worker): only the watcher, on its own schedule, still runs
    AlertRule.objects.update(last_evaluated_at=timezone.now() - timedelta(seconds=30))

    def arrived():
        tasks.watch_console.delay()
        return next((orjson.loads(r["body"]) for r in receiver.requests), None)

    body = wait_until(arrived, step=0.5)
    assert body["alert"]["rule"] == "Console: evaluation rounds late (built-in)"
    assert body["alert"]["severity"] == "critical" and body["alert"]["value"] >= 30
