"""Noise-safe defaults and the hourly budget: an hour of evaluation on an injected clock.

Evaluation runs every 10 s of a simulated clock hour (``evaluate(rule, now)``);
the pages it decides go through the real Celery worker to a real webhook
receiver, so the counts below are messages that arrived.
"""

from dataclasses import dataclass
from datetime import timedelta

import orjson
import pytest
from django.utils import timezone

from alerts import paging
from alerts.choices import PageOutcome
from alerts.evaluation import evaluate
from alerts.models import AlertRule, Delivery, NotificationChannel, Page
from config.tests.fixtures import wait_until, write_series
from servers.models import Server

# real worker, real time: seconds each (left out of the PgBouncer re-run of the suite)
pytestmark = [pytest.mark.usefixtures("celery_worker_live"), pytest.mark.slow]

TICK = timedelta(seconds=10)


@pytest.fixture
def hook(receiver, settings):
    settings.NOTIFY_WEBHOOK_URL = settings.NOTIFY_SLACK_WEBHOOK_URL = ""
    settings.NOTIFY_EMAIL_TO = []
    settings.NOTIFY_BUDGET_PER_HOUR = 4
    return NotificationChannel.objects.create(name="ops", kind="webhook", config={"url": receiver.url})


@pytest.fixture
def hour_start():
    """A whole clock hour in the past, so the budget's hour is the simulated one."""
    return paging.hour_of(timezone.now()) - timedelta(hours=2)


def crossing_every_20s(t: timedelta) -> float:
    """99 for 20 s, 85 for 20 s: over the threshold of 90, then under it, and again."""
    return 99.0 if (t.total_seconds() // 20) % 2 == 0 else 85.0


@dataclass
class Hour:
    pages: list[Page]
    requests: list[dict]

    def sent(self, kinds=("firing", "reminder", "escalation"), within: timedelta | None = None, start=None):
        return [
            p
            for p in self.pages
            if p.outcome == PageOutcome.SENT and p.kind in kinds and (within is None or p.at < start + within)
        ]


def simulate_hour(rules, servers, start, value_at, receiver) -> Hour:
    """Samples every 10 s and an evaluation round every 10 s for one hour; then the digest round."""
    t = timedelta(0)
    while t < timedelta(hours=1):
        now = start + t
        for server in servers:
            write_series(server, "system", "cpu_usage", [(now - timedelta(seconds=1), value_at(t))])
        for rule in rules:
            evaluate(rule, now)
        t += TICK
    paging.send_digests(start + timedelta(hours=1, minutes=1))
    sent = Page.objects.filter(outcome=PageOutcome.SENT).count()
    wait_until(lambda: Delivery.objects.filter(status="sent").count() == sent, timeout=30)
    receiver.wait_for(sent)
    return Hour(list(Page.objects.order_by("at", "pk")), [orjson.loads(r["body"]) for r in receiver.requests])


def cpu_rule(**kw):
    return AlertRule.objects.create(name="cpu hot", metric_type="system", metric_name="cpu_usage", threshold=90, **kw)


def test_new_rules_get_a_for_duration_and_a_recovery_threshold(settings, transactional_db):
    settings.ALERT_DEFAULT_FOR_SECONDS, settings.ALERT_DEFAULT_RECOVERY_PERCENT = 60, 10
    above = cpu_rule()
    assert (above.for_seconds, above.recovery_threshold) == (60, 81)
    below = AlertRule.objects.create(name="disk free low", metric_type="system", metric_name="disk_free",
                                     comparison="lt", threshold=10)  # fmt: skip
    assert (below.for_seconds, below.recovery_threshold) == (60, 11)
    chosen = AlertRule.objects.create(name="load", metric_type="system", metric_name="load", threshold=4,
                                      for_seconds=0, recovery_threshold=4)  # fmt: skip
    assert (chosen.for_seconds, chosen.recovery_threshold) == (0, 4)
    silent = AlertRule.objects.create(name="silent", kind="absence", window_seconds=60)
    assert (silent.for_seconds, silent.recovery_threshold) == (0, None)


def test_with_the_defaults_a_metric_crossing_every_20s_pages_at_most_twice_an_hour(hook, receiver, hour_start):
    server = Server.objects.create(hostname="app-01")
    rule = cpu_rule()  # aggregate avg over 60 s, for 60 s, recovery 81: all defaults
    hour = simulate_hour([rule], [server], hour_start, crossing_every_20s, receiver)
    assert len(hour.sent(within=timedelta(minutes=4), start=hour_start)) <= 2
    assert len(hour.sent()) <= 2
    assert len(hour.requests) <= 3  # pages, their resolution if any, a digest if any
    print(f"\ndefaults, avg: {[(p.kind, p.outcome, str(p.at - hour_start)) for p in hour.pages]}")


def test_the_last_value_crossing_every_20s_never_outlasts_the_default_for(hook, receiver, hour_start):
    server = Server.objects.create(hostname="app-01")
    rule = cpu_rule(aggregate="last")
    hour = simulate_hour([rule], [server], hour_start, crossing_every_20s, receiver)
    assert hour.sent() == [] and hour.requests == []


def test_without_for_a_flapping_metric_pages_twice_then_folds_into_the_digest(hook, receiver, hour_start):
    server = Server.objects.create(hostname="app-01")
    rule = cpu_rule(aggregate="last", for_seconds=0, recovery_threshold=90)  # noise-unsafe on purpose
    hour = simulate_hour([rule], [server], hour_start, crossing_every_20s, receiver)
    assert len(hour.sent(within=timedelta(minutes=4), start=hour_start)) == 2
    assert len(hour.sent()) == 2
    # two worker threads send: messages decided seconds apart may arrive in either order
    kinds = sorted(b["kind"] for b in hour.requests)
    assert kinds == ["digest", "firing", "firing", "resolved", "resolved"]
    assert "flapping" in next(b for b in hour.requests if b["kind"] == "digest")["text"]
    print(f"\nfor 0: {kinds}")


def test_a_rule_over_its_budget_sends_one_digest_at_the_end_of_the_hour(hook, receiver, hour_start):
    servers = [Server.objects.create(hostname=f"app-{i:02}") for i in range(6)]
    rule = cpu_rule(aggregate="last", for_seconds=0)
    hour = simulate_hour([rule], servers, hour_start, lambda t: 99.0, receiver)
    assert len(hour.sent()) == 4
    folded = [p for p in hour.pages if p.outcome == PageOutcome.FOLDED]
    assert len(folded) == 2 and all("budget of 4" in p.reason for p in folded)
    digests = [b for b in hour.requests if b["kind"] == "digest"]
    assert len(digests) == 1 and len(digests[0]["folded"]) == 2
    assert [b["kind"] for b in hour.requests].count("firing") == 4
