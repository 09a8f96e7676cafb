"""From an alert's transition to messages: in-console notification, mute check, routing, delivery.

A message owed is a ``PendingNotification`` (the outbox), written in the
transaction that changes the alert (``Alert.fire``/``resolve``; reminders by
``dispatch``). After commit the alerts app's receivers of ``alert_fired`` and
``alert_resolved`` ask the worker to send it at once; when Redis cannot take
that request, the periodic sweep (``alerts.tasks.send_notifications``) sends it
once Redis is back. ``notify`` (in the task) records the in-console notification,
holds everything back while a silence or maintenance window mutes the alert,
and queues one ``alerts.tasks.deliver`` per channel that routes it; ``attempt``
sends once and records the ``Delivery``.
"""

from __future__ import annotations

import logging
import time

from celery import current_app
from django.db import transaction
from django.utils import timezone

from alerts.choices import DeliveryStatus, MessageKind, NotificationLevel, Severity
from alerts.models import (
    Alert,
    AlertTransition,
    Delivery,
    Notification,
    NotificationChannel,
    PendingNotification,
)
from alerts.signals import alert_fired, alert_resolved
from alerts.transports import Message, TransportError, message_for, test_message, transport_for

log = logging.getLogger(__name__)


def _task(name: str):
    # the tasks (alerts/tasks.py) are looked up by name: they call into this module, which must not import them
    return current_app.tasks[f"alerts.tasks.{name}"]


def dispatch(alert: Alert, kind: str) -> None:
    """Owe a message about an alert (in the current transaction); ask for it to be sent after commit."""
    PendingNotification.objects.create(alert=alert, kind=kind)
    transaction.on_commit(lambda: send_soon(alert))


def send_soon(alert: Alert) -> None:
    """Ask the worker to send what is owed for ``alert`` now; when Redis cannot take the request,
    the periodic sweep sends it once Redis is back (nothing is lost, nothing is sent twice)."""
    try:
        _task("send_notifications").apply_async((alert.pk,), retry=False)
    except Exception as exc:  # the broker is down: the outbox keeps the message
        log.warning("notification of alert %s left to the sweep: %s", alert.pk, exc)


def _on_fired(sender, alert: Alert, **kwargs) -> None:
    send_soon(alert)


def _on_resolved(sender, alert: Alert, **kwargs) -> None:
    send_soon(alert)


def send_owed(pending_id: int) -> bool:
    """Send one owed message, once: claimed in a transaction (a concurrent sender skips it), the
    in-console notification recorded and the deliveries queued in it, then marked sent.

    When Redis refuses a delivery task the transaction rolls back and the message stays owed.
    """
    with transaction.atomic():
        pending = (
            PendingNotification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("alert__rule", "alert__server", "alert__acknowledged_by")
            .filter(pk=pending_id, sent_at__isnull=True)
            .first()
        )
        if pending is None:
            return False
        for channel_id in notify(pending.alert, pending.kind):
            _task("deliver").apply_async((channel_id, pending.alert_id, pending.kind), retry=False)
        pending.sent_at = timezone.now()
        pending.save(update_fields=["sent_at"])
    return True


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
