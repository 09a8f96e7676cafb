"""Alerting's own health: the last evaluation round, and notification outcomes, for /health and /metrics.

The evaluation round runs in a Celery worker; it leaves its summary in the
cache (Redis), where the web processes read it. A round older than three
ALERT_EVAL_INTERVAL_SECONDS means the beat (or the worker) is dead: /health
says "degraded", so a container health check catches it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

ROUND_KEY = "alerts:evaluation:last-round"
ROUNDS_KEY = "alerts:evaluation:rounds"
ERRORS_KEY = "alerts:evaluation:errors"
# when /health first found no round at all: a beat that never ran is as dead as one that stopped
NO_ROUND_SINCE_KEY = "alerts:evaluation:no-round-since"
STALE_AFTER_INTERVALS = 3


def record_round(summary: dict, now: float | None = None) -> None:
    """Called by the evaluation task at the end of each round."""
    cache.set(
        ROUND_KEY,
        {
            "at": time.time() if now is None else now,
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


def evaluation_check(now: float | None = None) -> dict:
    """/health's view of the evaluation beat: up, or stale with the age of the last round."""
    now = time.time() if now is None else now
    limit = STALE_AFTER_INTERVALS * settings.ALERT_EVAL_INTERVAL_SECONDS
    found = last_round()
    if found is None:
        cache.add(NO_ROUND_SINCE_KEY, now, None)
        since = cache.get(NO_ROUND_SINCE_KEY, now)
        waited = now - since
        if waited > limit:
            return {"status": "stale", "detail": f"no evaluation round for {waited:.0f} s (limit {limit} s)"}
        return {"status": "up", "detail": "waiting for the first evaluation round"}
    cache.delete(NO_ROUND_SINCE_KEY)
    age = now - found["at"]
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
    if found:
        yield GaugeMetricFamily(
            "console_evaluation_last_round_timestamp_seconds", "When the last evaluation round ended", found["at"]
        )
        yield GaugeMetricFamily(
            "console_evaluation_last_round_age_seconds", "Age of the last evaluation round", time.time() - found["at"]
        )
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
