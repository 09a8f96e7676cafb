"""From an alert's transition to messages: in-console notification, mute check, routing, delivery.

The alerts app listens to its own signals: ``alert_fired`` and
``alert_resolved`` queue ``alerts.tasks.notify_alert``; reminders are queued by
evaluation. ``notify`` (in the task) records the in-console notification,
holds everything back while a silence or maintenance window mutes the alert,
and queues one ``alerts.tasks.deliver`` per channel that routes it; ``attempt``
sends once and records the ``Delivery``.
"""

from __future__ import annotations

import logging
import time

from django.db import transaction
from django.utils import timezone

from alerts.choices import DeliveryStatus, MessageKind, NotificationLevel, Severity
from alerts.models import Alert, AlertTransition, Delivery, Notification, NotificationChannel
from alerts.signals import alert_fired, alert_resolved
from alerts.transports import Message, TransportError, message_for, test_message, transport_for

log = logging.getLogger(__name__)


def dispatch(alert: Alert, kind: str) -> None:
    """Queue the message about an alert once the current transaction commits."""
    from alerts import tasks

    transaction.on_commit(lambda: tasks.notify_alert.delay(alert.pk, str(kind)))


def _on_fired(sender, alert: Alert, **kwargs) -> None:
    from alerts import tasks

    tasks.notify_alert.delay(alert.pk, MessageKind.FIRING.value)


def _on_resolved(sender, alert: Alert, **kwargs) -> None:
    from alerts import tasks

    tasks.notify_alert.delay(alert.pk, MessageKind.RESOLVED.value)


def connect() -> None:
    alert_fired.connect(_on_fired, dispatch_uid="alerts.notify.fired")
    alert_resolved.connect(_on_resolved, dispatch_uid="alerts.notify.resolved")


def notify(alert: Alert, kind: str) -> list[int]:
    """Record the in-console notification and answer the channels to deliver to (none when muted)."""
    message = message_for(alert, kind)
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
        AlertTransition.objects.create(
            alert=alert, from_state=alert.state, to_state=alert.state, note=f"{kind} message muted by {muted}"[:500]
        )
        return []
    return [c.pk for c in NotificationChannel.objects.filter(enabled=True) if c.routes(alert, kind)]


def attempt(
    channel: NotificationChannel, alert: Alert | None, kind: str, number: int, *, last: bool, message_id: str = ""
) -> Delivery:
    """Send one message through one channel once and record how it went.

    ``message_id`` is the delivery's id, the same on every attempt (a webhook's webhook-id)."""
    message: Message = message_for(alert, kind) if alert is not None else test_message(channel)
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
        log.exception("channel %s failed", channel.pk)
        error = f"{type(exc).__name__}: {exc}"
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
