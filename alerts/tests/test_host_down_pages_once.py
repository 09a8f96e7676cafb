"""A host going silent pages once: suppression by root cause, with a real Celery worker and real time.

Beat is played by the test: it queues an evaluation round every half second
(as beat does every ALERT_EVAL_INTERVAL_SECONDS) until what it waits for holds.
"""

from datetime import timedelta

import orjson
import pytest
from django.utils import timezone

from alerts import tasks
from alerts.choices import AlertState, PageOutcome
from alerts.models import Alert, AlertRule, Delivery, NotificationChannel, Page
from config.tests.fixtures import wait_until, write_series
from servers.models import Server

# real worker, real time: seconds each (left out of the PgBouncer re-run of the suite)
pytestmark = [pytest.mark.usefixtures("celery_worker_live"), pytest.mark.slow]

HOST_DOWN = "Host down (built-in)"


@pytest.fixture
def quick(settings):
    settings.SERVER_STALE_SECONDS = 1
    settings.SERVER_DOWN_SECONDS = 3
    settings.NOTIFY_RETRY_BACKOFF_SECONDS = 0.2
    settings.NOTIFY_WEBHOOK_URL = settings.NOTIFY_SLACK_WEBHOOK_URL = ""
    settings.NOTIFY_EMAIL_TO = []
    return settings


@pytest.fixture
def hook(receiver, quick):
    return NotificationChannel.objects.create(name="ops", kind="webhook", config={"url": receiver.url})


def report(server, cpu=50.0):
    """The agent speaks: CPU and memory, now."""
    now = timezone.now() - timedelta(milliseconds=50)
    write_series(server, "system", "cpu_usage", [(now, cpu)])
    write_series(server, "system", "memory_usage", [(now, 40.0)])


def missing(metric):
    return AlertRule.objects.create(
        name=f"{metric} missing", kind="absence", metric_type="system", metric_name=metric, window_seconds=2
    )


def rounds_until(predicate, timeout=25):
    """Queue evaluation rounds, as beat would, until ``predicate`` holds."""

    def tick():
        tasks.evaluate_rules.delay()
        return predicate()

    return wait_until(tick, timeout=timeout, step=0.5)


def bodies(receiver):
    return [orjson.loads(r["body"]) for r in receiver.requests]


def all_sent_pages_delivered():
    sent = Page.objects.filter(outcome=PageOutcome.SENT).count()
    return sent and Delivery.objects.filter(status="sent").count() == sent


def test_a_silent_host_with_three_alerting_rules_pages_once(hook, receiver, api):
    server = Server.objects.create(hostname="app-01")
    missing("cpu_usage")
    missing("memory_usage")
    report(server)
    tasks.evaluate_rules.delay()  # the built-in host-down rule is ensured by the round

    rounds_until(lambda: Alert.objects.filter(state=AlertState.FIRING).count() == 3)
    wait_until(all_sent_pages_delivered)
    assert len(receiver.requests) == 1
    page = bodies(receiver)[0]
    assert page["kind"] == "firing" and page["alert"]["rule"] == HOST_DOWN
    assert sorted(a["rule"] for a in page["suppressed"]) == ["cpu_usage missing", "memory_usage missing"]
    assert "suppressed while app-01 is down:" in page["text"]

    down = Alert.objects.get(rule__name=HOST_DOWN)
    cpu = Alert.objects.get(rule__name="cpu_usage missing")
    shown = api.get(f"/api/v1/alerts/{cpu.pk}").json()
    assert shown["suppressed_by"]["alert_id"] == down.pk and "app-01" in shown["suppressed_by"]["reason"]
    suppressed = api.get(f"/api/v1/alerts/{down.pk}").json()["suppressed"]
    assert sorted(a["rule"] for a in suppressed) == ["cpu_usage missing", "memory_usage missing"]

    # it comes back: the host-down alert resolves (sent, it was paged); the quiet ones resolve quietly
    report(server)
    rounds_until(lambda: not Alert.objects.filter(state__in=["pending", "firing"], server=server).exists())
    wait_until(all_sent_pages_delivered)
    assert [(b["kind"], b["alert"]["rule"]) for b in bodies(receiver)] == [
        ("firing", HOST_DOWN),
        ("resolved", HOST_DOWN),
    ]
    assert Page.objects.filter(outcome=PageOutcome.SUPPRESSED, kind="resolved").count() == 2


def test_a_resolution_is_sent_even_while_the_host_is_down(hook, receiver):
    server = Server.objects.create(hostname="app-02")
    AlertRule.objects.create(
        name="cpu hot", metric_type="system", metric_name="cpu_usage", aggregate="last", threshold=90,
        window_seconds=2, for_seconds=0,
    )  # fmt: skip
    report(server, cpu=99)
    rounds_until(lambda: Alert.objects.filter(rule__name="cpu hot", state=AlertState.FIRING).exists())
    # the host goes silent while CPU was high: the CPU alert resolves (no data) and that is said
    rounds_until(lambda: Alert.objects.filter(rule__name=HOST_DOWN, state=AlertState.FIRING).exists())
    wait_until(all_sent_pages_delivered)
    assert [(b["kind"], b["alert"]["rule"]) for b in bodies(receiver)] == [
        ("firing", "cpu hot"),
        ("resolved", "cpu hot"),
        ("firing", HOST_DOWN),
    ]


def test_a_switch_going_down_pages_for_itself_not_for_the_hosts_behind_it(hook, receiver, client, alice):
    switch = Server.objects.create(hostname="sw-01")
    behind = [Server.objects.create(hostname=f"rack-{i}", depends_on=switch) for i in (1, 2)]
    for server in (switch, *behind):
        report(server)
    tasks.evaluate_rules.delay()

    rounds_until(lambda: Alert.objects.filter(rule__name=HOST_DOWN, state=AlertState.FIRING).count() == 3)
    wait_until(all_sent_pages_delivered)
    assert [(b["alert"]["server"], len(b["suppressed"])) for b in bodies(receiver)] == [("sw-01", 2)]
    switch_down = Alert.objects.get(server=switch)
    for server in behind:
        child = Alert.objects.get(server=server)
        assert child.suppressed_by == switch_down and "depends on sw-01" in child.suppressed_reason

    # the alert's page says so
    client.force_login(alice)
    child = Alert.objects.get(server=behind[0])
    page = client.get(f"/console/alerts/{child.pk}").content.decode()
    assert "Suppressed by" in page and f"/console/alerts/{switch_down.pk}" in page


def test_bob_says_which_switch_a_server_sits_behind(api, transactional_db):
    switch = Server.objects.create(hostname="sw-02")
    host = Server.objects.create(hostname="rack-9")
    response = api.patch(f"/api/v1/servers/{host.pk}", {"depends_on": str(switch.pk)}, format="json")
    assert response.status_code == 200 and response.json()["depends_on"] == str(switch.pk)
    loop = api.patch(f"/api/v1/servers/{switch.pk}", {"depends_on": str(host.pk)}, format="json")
    assert loop.status_code == 400 and "depends_on" in str(loop.json())
