"""Alerting's own health: how late the evaluation rounds are, and notification outcomes.

A round stamps every rule it evaluates (``AlertRule.last_evaluated_at``);
``round_age`` is the one reading of how long ago the last one was, for /health,
/metrics and the built-in "evaluation rounds late" rule alike (which reads it
inside its one query, ``round_age_query``, so an injected clock holds). A round
older than ALERT_ROUND_LATE_INTERVALS intervals means the beat (or the worker)
is dead: /health says "degraded", so a container health check catches it, and
the built-in rule pages. The round's summary (rules, errors, duration) is left
in the cache (Redis) for /metrics.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from alerts.choices import RuleKind

ROUND_KEY = "alerts:evaluation:last-round"
ROUNDS_KEY = "alerts:evaluation:rounds"
ERRORS_KEY = "alerts:evaluation:errors"
# when /health first found no round at all: a beat that never ran is as dead as one that stopped
NO_ROUND_SINCE_KEY = "alerts:evaluation:no-round-since"


def round_age_query(now: datetime) -> tuple[str, list]:
    """SQL answering the age in seconds of the last round at ``now`` (one row), or no row before the first.

    The console's own rules run on their own schedule (tasks.watch_console), so they do not count."""
    sql = (
        "SELECT extract(epoch FROM %s - max(last_evaluated_at))::float8 FROM alerts_alertrule "
        "WHERE enabled AND kind <> %s HAVING max(last_evaluated_at) IS NOT NULL"
    )
    return sql, [now, RuleKind.CONSOLE.value]


def round_age(now: datetime | None = None) -> float | None:
    """Seconds since the last evaluation round (None before the first)."""
    sql, params = round_age_query(now or timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else float(row[0])


def late_after() -> float:
    """The age at which the rounds are late: ALERT_ROUND_LATE_INTERVALS evaluation intervals."""
    return settings.ALERT_ROUND_LATE_INTERVALS * settings.ALERT_EVAL_INTERVAL_SECONDS


def record_round(summary: dict) -> None:
    """Called by the evaluation task at the end of each round: its figures for /metrics."""
    cache.set(
        ROUND_KEY,
        {
            "seconds": summary.get("seconds", 0.0),
            "rules": summary.get("rules", 0),
            "errors": summary.get("errors", 0),
        },
        None,
    )
    _add(ROUNDS_KEY, 1)
    if summary.get("errors"):
        _add(ERRORS_KEY, summary["errors"])


def _add(key: str, amount: int) -> None:
    cache.add(key, 0, None)
    try:
        cache.incr(key, amount)
    except ValueError:  # evicted between add and incr
        cache.set(key, amount, None)


def last_round() -> dict | None:
    return cache.get(ROUND_KEY)


def evaluation_check(now: datetime | None = None) -> dict:
    """/health's view of the evaluation beat: up, or stale with the age of the last round."""
    now = now or timezone.now()
    limit = late_after()
    age = round_age(now)
    if age is None:
        cache.add(NO_ROUND_SINCE_KEY, now.timestamp(), None)
        waited = now.timestamp() - cache.get(NO_ROUND_SINCE_KEY, now.timestamp())
        if waited > limit:
            return {"status": "stale", "detail": f"no evaluation round for {waited:.0f} s (limit {limit} s)"}
        return {"status": "up", "detail": "waiting for the first evaluation round"}
    cache.delete(NO_ROUND_SINCE_KEY)
    result = {"status": "up" if age <= limit else "stale", "age_seconds": round(age, 1), "limit_seconds": limit}
    if age > limit:
        result["detail"] = f"the last evaluation round is {age:.0f} s old (limit {limit} s): is celery beat running?"
    return result


def metric_families() -> Iterable[Metric]:
    """For /metrics (registered with monitoring.selfmetrics): evaluation rounds and notifications."""
    found = last_round() or {}
    yield CounterMetricFamily("console_evaluation_rounds", "Alert evaluation rounds run", cache.get(ROUNDS_KEY, 0))
    yield CounterMetricFamily(
        "console_evaluation_errors", "Rules that failed to evaluate, summed over rounds", cache.get(ERRORS_KEY, 0)
    )
    age = round_age()
    if age is not None:
        yield GaugeMetricFamily(
            "console_evaluation_last_round_timestamp_seconds", "When the last evaluation round ended", time.time() - age
        )
        yield GaugeMetricFamily("console_evaluation_last_round_age_seconds", "Age of the last evaluation round", age)
    if found:
        yield GaugeMetricFamily(
            "console_evaluation_last_round_duration_seconds", "How long the last round took", found["seconds"]
        )
        yield GaugeMetricFamily("console_evaluation_rules", "Rules evaluated in the last round", found["rules"])
    yield notification_family()


def notification_family() -> Metric:
    from alerts.models import Delivery

    family = CounterMetricFamily(
        "console_notifications",
        "Notification attempts in the delivery log, by channel and outcome (pruned with ALERT_RETENTION_SECONDS)",
        labels=["channel", "kind", "outcome"],
    )
    rows = Delivery.objects.values("channel__name", "channel__kind", "status").annotate(n=Count("id"))
    for row in rows.order_by("channel__name", "status"):
        family.add_metric([row["channel__name"], row["channel__kind"], row["status"]], row["n"])
    return family
