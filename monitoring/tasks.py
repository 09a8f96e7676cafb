"""Celery tasks of the storage: upkeep (every UPKEEP_INTERVAL_SECONDS) and retention (hourly)."""

from __future__ import annotations

import logging

from celery import shared_task

from monitoring import capacity
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
