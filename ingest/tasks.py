"""Scheduled upkeep of the write path."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from monitoring.models import IngestReceipt


@shared_task(name="ingest.tasks.forget_receipts")
def forget_receipts() -> int:
    """Forget receipts older than INGEST_IDEMPOTENCY_SECONDS: a retry after that is stored again."""
    cutoff = timezone.now() - timedelta(seconds=settings.INGEST_IDEMPOTENCY_SECONDS)
    deleted, _ = IngestReceipt.objects.filter(created_at__lt=cutoff).delete()
    return deleted
