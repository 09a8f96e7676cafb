"""Celery tasks of the alerts app: evaluation rounds, notifications with retries, pruning."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts import evaluation, health, notify, paging, provisioning
from alerts.choices import DeliveryStatus, PageOutcome, RuleKind
from alerts.models import Alert, AlertRule, Delivery, DeliveryClaim, Notification, NotificationChannel, Page

log = logging.getLogger(__name__)

# pages one sweep takes at most; the next sweep takes the rest
SWEEP_BATCH = 500


@shared_task(ignore_result=True)
def evaluate_rules() -> dict:
    """One round (beat, every ALERT_EVAL_INTERVAL_SECONDS): every enabled rule, one query each."""
    started = time.perf_counter()
    provisioning.ensure()
    outcomes = evaluation.evaluate_rules()
    summary = {
        "rules": len(outcomes),
        "skipped": sum(o.skipped for o in outcomes),
        "errors": sum(bool(o.error) for o in outcomes),
        "fired": sum(o.fired for o in outcomes),
        "resolved": sum(o.resolved for o in outcomes),
        "seconds": round(time.perf_counter() - started, 3),
    }
    if summary["fired"] or summary["resolved"] or summary["errors"]:
        log.info("evaluation round: %s", summary)
    health.record_round(summary)
    return summary


@shared_task(ignore_result=True)
def evaluate_rule(rule_id: int) -> None:
    evaluation.evaluate_rules([rule_id])


@shared_task(ignore_result=True)
def watch_console() -> None:
    """The console watching itself (beat, every interval): its own rules, even while a round is stuck."""
    rule_ids = list(AlertRule.objects.filter(kind=RuleKind.CONSOLE, enabled=True).values_list("pk", flat=True))
    if rule_ids:
        evaluation.evaluate_rules(rule_ids)


@shared_task(ignore_result=True)
def send_digests() -> int:
    """Every minute: the folded messages of each past hour, one digest per rule."""
    return len(paging.send_digests(timezone.now()))


@shared_task(ignore_result=True)
def notify_alert(alert_id: int | None, kind: str, page_id: int | None = None) -> int:
    """The message about an alert: in-console notification, then one delivery task per routed channel."""
    return dispatch(alert_id, kind, page_id) or 0


def dispatch(alert_id: int | None, kind: str, page_id: int | None) -> int | None:
    """Take one sent page, once; answers the deliveries queued, None when it was taken already.

    The page is locked (a sweep or a second copy of the task skips it) and
    marked dispatched in the transaction that records the notification and
    queues the deliveries; when Redis refuses a delivery task, all of it rolls
    back and the page stays owed."""
    with transaction.atomic():
        page = None
        if page_id is not None:
            page = (
                Page.objects.select_for_update(skip_locked=True)
                .filter(pk=page_id, outcome=PageOutcome.SENT, dispatched_at__isnull=True)
                .first()
            )
            if page is None:
                return None  # taken already, or being taken right now
        channel_ids = _queue_deliveries(alert_id, kind, page)
        if page is not None:
            page.dispatched_at = timezone.now()
            page.save(update_fields=["dispatched_at"])
    return len(channel_ids)


def _queue_deliveries(alert_id: int | None, kind: str, page: Page | None) -> list[int]:
    alert = Alert.objects.select_related("rule", "server", "acknowledged_by").filter(pk=alert_id).first()
    if alert is None:
        return []
    channel_ids = notify.notify(alert, kind, page)
    for channel_id in channel_ids:
        # a delivery queued before a later one fails still goes out; the page's claim stops its second copy
        deliver.apply_async((channel_id, alert_id, kind, page.pk if page else None), retry=False)
    return channel_ids


@shared_task(ignore_result=True)
def send_pending_pages() -> int:
    """The outbox sweep (beat, every NOTIFY_SWEEP_SECONDS): sent pages no worker took, e.g. while Redis was down."""
    page_ids = list(paging.pending(timezone.now()).values_list("pk", "alert_id", "kind")[:SWEEP_BATCH])
    taken = 0
    for page_id, alert_id, kind in page_ids:
        try:
            taken += dispatch(alert_id, kind, page_id) is not None
        except Exception as exc:  # Redis still refuses: the page stays owed for the next sweep
            log.warning("sweep: page %s still owed: %s", page_id, exc)
            break
    if page_ids:
        log.info("sweep: %s of %s pending pages sent", taken, len(page_ids))
    return taken


@shared_task(bind=True, ignore_result=True, max_retries=None)
def deliver(self, channel_id: int, alert_id: int | None, kind: str, page_id: int | None = None) -> str:
    """Send through one channel; on failure retry with exponential backoff up to NOTIFY_MAX_ATTEMPTS."""
    channel = NotificationChannel.objects.filter(pk=channel_id).first()
    if channel is None:
        return "gone"
    alert = None
    if alert_id is not None:
        alert = Alert.objects.select_related("rule", "server", "acknowledged_by").filter(pk=alert_id).first()
        if alert is None:
            return "gone"
    number = self.request.retries + 1
    page = Page.objects.filter(pk=page_id).first() if page_id else None
    # a retry is the same task: its id names the delivery on every attempt (a webhook's webhook-id)
    message_id = f"msg_{self.request.id}" if self.request.id else ""
    if page is not None and message_id and not DeliveryClaim.take(page.pk, channel.pk, message_id):
        return "duplicate"  # another task sends this page through this channel
    last = number >= settings.NOTIFY_MAX_ATTEMPTS
    delivery = notify.attempt(channel, alert, kind, number, last=last, page=page, message_id=message_id)
    if delivery.status == DeliveryStatus.RETRYING:
        countdown = settings.NOTIFY_RETRY_BACKOFF_SECONDS * 2**self.request.retries
        raise self.retry(countdown=countdown)
    return delivery.status


@shared_task(ignore_result=True)
def prune() -> None:
    """Resolved alerts, their deliveries and read notifications older than ALERT_RETENTION_SECONDS go."""
    cutoff = timezone.now() - timedelta(seconds=settings.ALERT_RETENTION_SECONDS)
    Alert.objects.filter(state="resolved", resolved_at__lt=cutoff).delete()
    Delivery.objects.filter(alert__isnull=True, created_at__lt=cutoff).delete()
    Notification.objects.filter(read=True, created_at__lt=cutoff).delete()


from alerts.analysis import event_review, log_classifier  # noqa: E402,F401  (and the seed 003/004 background ones)
from alerts.analysis import tasks as analysis_tasks  # noqa: E402,F401  (issue 7: workers know the analysis tasks)
