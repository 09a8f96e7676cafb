"""Celery tasks of the storage: upkeep (every UPKEEP_INTERVAL_SECONDS), retention (hourly), event re-evaluation."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from monitoring import capacity, events
from monitoring import upkeep as storage

logger = logging.getLogger(__name__)


@shared_task(name="monitoring.tasks.upkeep")
def upkeep() -> dict:
    """Partitions ahead, ingest receipts pruned, roll-ups refreshed."""
    report = storage.upkeep()
    for line in report.lines():
        if line != "nothing to do" and not line.startswith("roll-ups"):
            logger.info("upkeep: %s", line)
    return report.as_dict()


@shared_task(name="monitoring.tasks.retention")
def retention() -> dict:
    """Whole partitions past their retention dropped, then the size cap; the storage figures the console
    alerts on published."""
    report = storage.retention()
    for name in report.dropped:
        logger.info("retention: dropped %s", name)
    capacity.publish(capacity.report())
    return report.as_dict()


@shared_task(name="monitoring.tasks.re_evaluate_events")
def re_evaluate_events() -> dict:
    """Seed 003's automatic re-evaluation: the last REEVALUATE_LOOKBACK_MINUTES judged again (0: off)."""
    if settings.REEVALUATE_LOOKBACK_MINUTES <= 0:
        return {"re_evaluated": 0, "off": True}
    report = events.re_evaluate(settings.REEVALUATE_LOOKBACK_MINUTES)
    if report["changed"]:
        logger.info("re-evaluation: %d of %d events changed verdict", report["changed"], report["re_evaluated"])
    return report


@shared_task(name="monitoring.tasks.watch_service_health")
def watch_service_health() -> int:
    """Every ALERT_EVAL_INTERVAL_SECONDS: services turning unhealthy, silent or healthy, pushed live."""
    from monitoring import service_health

    return len(service_health.publish_changes())
