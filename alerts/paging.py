"""Whether a message about an alert goes out: root cause, flapping, the hourly budget, the policy.

``page(alert, kind, now)`` runs in the transaction that changed the alert, on
the evaluation's clock, and records a ``Page``:

- suppressed: the alert's host is down (suppression.py); the host-down alert's
  messages list it instead;
- folded: the alert is flapping, or its rule already sent
  NOTIFY_BUDGET_PER_HOUR pages (firing, reminder) this clock hour (an escalation
  is never held back by the budget);
  ``send_digests`` sends the folded ones of an hour as one digest once the hour
  is over;
- sent: queued for the channels once the transaction commits. The sent page
  is the outbox: a worker marks it dispatched when it takes it, and the sweep
  (``alerts.tasks.send_pending_pages``) sends those Redis could not take.

A resolution is sent exactly when the alert's firing was: never suppressed or
budgeted on its own, and never about an alert nobody was told of.

The policy (``NotificationPolicy``) says how often a firing, unacknowledged
alert is repeated and when it escalates to a second channel.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from alerts import signals, suppression
from alerts.choices import PAGE_KINDS, MessageKind, PageOutcome
from alerts.models import Alert, AlertRule, NotificationPolicy, Page

log = logging.getLogger(__name__)


def connect() -> None:
    signals.message_due.connect(_on_message_due, dispatch_uid="alerts.paging.message_due")


def _on_message_due(sender, alert: Alert, kind: str, now: datetime, **kwargs) -> None:
    page(alert, kind, now)


def page(alert: Alert, kind: str, now: datetime) -> Page:
    """Decide and record one message about ``alert``; queue it when it goes out."""
    kind = MessageKind(kind)
    outcome, reason = _decide(alert, kind, now)
    record = Page.objects.create(rule_id=alert.rule_id, alert=alert, kind=kind, outcome=outcome, reason=reason, at=now)
    if outcome == PageOutcome.SENT:
        if kind == MessageKind.FIRING and alert.rule.is_host_down:
            suppression.adopt(alert)
        _queue(alert.pk, kind, record.pk)
    else:
        alert.note(f"{kind} message {outcome}: {reason}", now)
    return record


def _decide(alert: Alert, kind: MessageKind, now: datetime) -> tuple[str, str]:
    if kind == MessageKind.RESOLVED:
        fired = alert.pages.filter(kind=MessageKind.FIRING).order_by("-at", "-pk").first()
        if fired is None or fired.outcome == PageOutcome.SENT:
            return PageOutcome.SENT, ""
        return fired.outcome, f"its firing was {fired.outcome}"
    cause = suppression.cause_for(alert, now)
    if cause is not None:
        _mark_suppressed(alert, cause)
        return PageOutcome.SUPPRESSED, cause.reason
    if alert.suppressed_reason:
        Alert.objects.filter(pk=alert.pk).update(suppressed_by=None, suppressed_reason="")
        alert.suppressed_by, alert.suppressed_reason = None, ""
    if kind == MessageKind.FIRING and alert.flapping:
        return PageOutcome.FOLDED, "flapping: bounces go into the hour's digest"
    budget = settings.NOTIFY_BUDGET_PER_HOUR
    if budget and kind in PAGE_KINDS and spent(alert.rule_id, now) >= budget:
        return PageOutcome.FOLDED, f"over the budget of {budget} pages an hour"
    return PageOutcome.SENT, ""


def _mark_suppressed(alert: Alert, cause: suppression.Cause) -> None:
    by = cause.by.pk if cause.by is not None else None
    if alert.suppressed_by_id != by or alert.suppressed_reason != cause.reason:
        alert.suppressed_by_id, alert.suppressed_reason = by, cause.reason[:300]
        Alert.objects.filter(pk=alert.pk).update(suppressed_by_id=by, suppressed_reason=alert.suppressed_reason)


def hour_of(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


def spent(rule_id: int, now: datetime) -> int:
    """Pages a rule sent since the start of this clock hour."""
    return Page.objects.filter(
        rule_id=rule_id, outcome=PageOutcome.SENT, kind__in=PAGE_KINDS, at__gte=hour_of(now), at__lte=now
    ).count()


def _queue(alert_id: int | None, kind: str, page_id: int) -> None:
    """The one place a message is queued for the channels, once the alert's transaction commits.

    The sent page is the outbox row: when Redis cannot take the task, the page
    stays pending and ``pending`` hands it to the sweep once Redis is back."""
    transaction.on_commit(lambda: _hand_to_worker(alert_id, str(kind), page_id))


def _hand_to_worker(alert_id: int | None, kind: str, page_id: int) -> None:
    try:
        with current_app.pool.acquire(block=True, timeout=1) as connection:
            # one connection attempt, no publish retries: kombu would otherwise retry for seconds per page,
            # and a broker that is down must not hold up (or fail) the evaluation round
            connection.ensure_connection(max_retries=0)
            # the task (alerts/tasks.py) is looked up by name: it calls into this module, which must not import it
            current_app.send_task(
                "alerts.tasks.notify_alert",
                args=[alert_id, kind, page_id],
                connection=connection,
                retry=False,
                ignore_result=True,
            )
    except Exception as exc:  # whatever the broker raises, the page is stored and the sweep sends it
        log.warning("%s message of alert %s left to the sweep (page %s): %s", kind, alert_id, page_id, exc)


def pending(now: datetime) -> QuerySet[Page]:
    """Sent pages no worker has taken yet, older than NOTIFY_SWEEP_GRACE_SECONDS, oldest first."""
    before = now - timedelta(seconds=settings.NOTIFY_SWEEP_GRACE_SECONDS)
    return Page.objects.filter(outcome=PageOutcome.SENT, dispatched_at__isnull=True, at__lte=before).order_by(
        "at", "pk"
    )


# --- digests ------------------------------------------------------------------------
def send_digests(now: datetime) -> list[Page]:
    """One digest per rule and past hour of what was folded; the current hour waits for its end."""
    digests = []
    with transaction.atomic():
        folded = list(
            Page.objects.select_for_update(skip_locked=True)
            .filter(outcome=PageOutcome.FOLDED, digest__isnull=True, at__lt=hour_of(now))
            .order_by("at", "pk")
        )
        groups: dict[tuple[int, datetime], list[Page]] = defaultdict(list)
        for each in folded:
            groups[(each.rule_id, hour_of(each.at))].append(each)
        for (rule_id, hour), pages in groups.items():
            digest = Page.objects.create(
                rule_id=rule_id,
                alert_id=pages[-1].alert_id,
                kind=MessageKind.DIGEST,
                outcome=PageOutcome.SENT,
                reason=f"{len(pages)} folded between {hour:%H:%M} and {hour + timedelta(hours=1):%H:%M} UTC",
                at=now,
            )
            Page.objects.filter(pk__in=[p.pk for p in pages]).update(digest=digest)
            _queue(digest.alert_id, MessageKind.DIGEST, digest.pk)
            digests.append(digest)
    return digests


def digest_lines(digest: Page) -> list[str]:
    lines = []
    for each in digest.folded.select_related("alert").order_by("at", "pk"):
        about = each.alert.summary if each.alert_id else ""
        lines.append(f"{each.at:%H:%M:%S} {each.kind}: {about} ({each.reason})")
    return lines


# --- the policy: repeat and escalate ------------------------------------------------
def policy_for(rule: AlertRule) -> NotificationPolicy | None:
    """The rule's policy, else the default one (cached on the rule for the round)."""
    if not hasattr(rule, "_effective_policy"):
        rule._effective_policy = rule.policy if rule.policy_id else default_policy()
    return rule._effective_policy


def default_policy() -> NotificationPolicy | None:
    return NotificationPolicy.objects.filter(is_default=True).select_related("escalate_to").first()


def repeat_every(rule: AlertRule) -> timedelta | None:
    policy = policy_for(rule)
    if policy is not None and policy.repeat_minutes is not None:
        return timedelta(minutes=policy.repeat_minutes) if policy.repeat_minutes else None
    return timedelta(seconds=settings.REPEAT_INTERVAL) if settings.REPEAT_INTERVAL else None


def escalation_due(alert: Alert, rule: AlertRule, now: datetime) -> bool:
    """Firing, unacknowledged, not yet escalated, and older than the policy's escalate_after."""
    if alert.acknowledged_at is not None or alert.escalated_at is not None or alert.fired_at is None:
        return False
    policy = policy_for(rule)
    if policy is None or policy.escalate_after_minutes is None or not policy.escalate_to_id:
        return False
    return now - alert.fired_at >= timedelta(minutes=policy.escalate_after_minutes)


def escalate(alert: Alert, rule: AlertRule, now: datetime) -> bool:
    if not escalation_due(alert, rule, now):
        return False
    alert.escalated_at = now
    Alert.objects.filter(pk=alert.pk).update(escalated_at=now)
    page(alert, MessageKind.ESCALATION, now)
    return True


def release(now: datetime) -> int:
    """Alerts whose root cause has gone while they still fire: their firing message goes out now."""
    count = 0
    for alert in suppression.released(now):
        with transaction.atomic():
            Alert.objects.filter(pk=alert.pk).update(suppressed_by=None, suppressed_reason="")
            alert.suppressed_by, alert.suppressed_reason = None, ""
            alert.note("no longer suppressed: its host is back", now)
            page(alert, MessageKind.FIRING, now)
            count += 1
    return count
