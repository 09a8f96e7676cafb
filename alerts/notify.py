"""From an alert's page to messages: in-console notification, mute check, routing, delivery.

``alerts.paging.page`` decides, in the transaction that changed the alert,
whether a message goes out (root cause, flapping, budget) and queues
``alerts.tasks.notify_alert`` for those that do. ``notify`` (in the task)
records the in-console notification, holds everything back while a silence or
maintenance window mutes the alert, and answers the channels that route it;
``attempt`` sends once and records the ``Delivery``.
"""

from __future__ import annotations

import logging
import time

from django.utils import timezone

from alerts import outbound, paging
from alerts.choices import DeliveryStatus, MessageKind, NotificationLevel, Severity
from alerts.models import Alert, Delivery, Notification, NotificationChannel, Page
from alerts.transports import Message, TransportError, message_for, test_message, transport_for

log = logging.getLogger(__name__)


def notify(alert: Alert, kind: str, page: Page | None = None) -> list[int]:
    """Record the in-console notification and answer the channels to deliver to (none when muted)."""
    message = message_for(alert, kind, page=page)
    muted = alert.muted_by()
    if kind != MessageKind.REMINDER:
        level = (
            NotificationLevel.SUCCESS
            if kind == MessageKind.RESOLVED
            else NotificationLevel.CRITICAL
            if alert.severity == Severity.CRITICAL
            else NotificationLevel.WARNING
        )
        Notification.objects.create(
            title=message.title[:300],
            message=message.text,
            level=level,
            source=alert.rule.name[:255],
            alert=alert,
            metadata={"kind": str(kind), "state": alert.state, "muted": muted, "server": message.alert["server"]},
        )
    if muted:
        alert.note(f"{kind} message muted by {muted}")
        return []
    return [c.pk for c in channels_for(alert, kind, page)]


def channels_for(alert: Alert, kind: str, page: Page | None = None) -> list[NotificationChannel]:
    """Where a message goes: the routing channels; the policy's escalation channel only once escalated.

    "Once escalated" is judged at the page's time, not the worker's: a reminder
    decided before the escalation but sent after it still goes to the first
    channel only."""
    policy = paging.policy_for(alert.rule)
    second = policy.escalate_to_id if policy is not None else None
    if kind == MessageKind.ESCALATION:
        return list(NotificationChannel.objects.filter(pk=second, enabled=True)) if second else []
    routed = [c for c in NotificationChannel.objects.filter(enabled=True) if c.routes(alert, kind)]
    escalated = alert.escalated_at is not None and (page is None or alert.escalated_at <= page.at)
    if second and not escalated:
        routed = [c for c in routed if c.pk != second]
    return routed


def attempt(
    channel: NotificationChannel,
    alert: Alert | None,
    kind: str,
    number: int,
    *,
    last: bool,
    page: Page | None = None,
    message_id: str = "",
) -> Delivery:
    """Send one message through one channel once and record how it went.

    ``message_id`` is the delivery's id, the same on every attempt (a webhook's webhook-id)."""
    message: Message = (
        message_for(alert, kind, page=page, channel=channel) if alert is not None else test_message(channel)
    )
    if message_id:
        message.id = message_id
    started = time.perf_counter()
    status, code, error = DeliveryStatus.SENT, None, ""
    try:
        code = transport_for(channel).send(message)
    except TransportError as exc:
        code, error = exc.status, exc.message
        status = DeliveryStatus.FAILED if exc.permanent or last else DeliveryStatus.RETRYING
    except Exception as exc:  # a bug in a transport is logged, recorded and retried like an outage
        # masked, and without the traceback, whose last line is the same text unmasked: it may quote the URL
        error = outbound.mask_urls(f"{type(exc).__name__}: {exc}")
        log.error("channel %s failed: %s", channel.pk, error)
        status = DeliveryStatus.FAILED if last else DeliveryStatus.RETRYING
    return Delivery.objects.create(
        channel=channel,
        alert=alert,
        kind=kind,
        message_id=message.id,
        attempt=number,
        status=status,
        response_code=code,
        error=error[:2000],
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
        created_at=timezone.now(),
    )
