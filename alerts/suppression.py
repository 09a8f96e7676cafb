"""Suppression by root cause: while a host is down, its other alerts do not page.

A host is down when it has not been heard from for SERVER_DOWN_SECONDS, or when
a host-down alert (a no-contact absence rule, such as the built-in "Host down")
fires for it. Then:

- its other alerts (metric thresholds and absences, log and service rules) are
  recorded as suppressed, by that host-down alert (``suppressed_by``) or, before
  one fires, with the reason; the host-down alert adopts them when it fires and
  its messages list them;
- a metric-absence alert on a host that has sent nothing at all for the rule's
  window is the host going silent, not the metric: suppressed the same way;
- the host-down alert of a server whose parent (``Server.depends_on``: a switch,
  a hypervisor) is not up, or is down, is suppressed by the parent's.

Resolutions are never suppressed (paging.py sends the resolution of every
alert whose firing was sent). An alert still firing when its cause is gone is
released: its firing message goes out then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from alerts.choices import OPEN_STATES, AlertState, RuleKind
from alerts.models import Alert
from servers.choices import ServerKind, ServerStatus
from servers.models import Server, status_for


@dataclass(frozen=True, slots=True)
class Cause:
    by: Alert | None
    reason: str


def cause_for(alert: Alert, now: datetime) -> Cause | None:
    """Why this alert must not page now, or None when it may."""
    server = alert.server if alert.server_id else None
    if server is None or server.kind != ServerKind.HOST:
        return None
    if alert.rule.is_host_down:
        return _parent_cause(alert, server, now) or _sibling_cause(alert, server)
    down = host_down_alert(server, exclude=alert)
    if down is not None:
        return Cause(down, f"{server} is down ({down.rule.name})")
    if _silent_for(server, now, settings.SERVER_DOWN_SECONDS):
        return Cause(None, f"{server} is down: no contact for {settings.SERVER_DOWN_SECONDS} s")
    if alert.rule.kind == RuleKind.ABSENCE and _silent_for(server, now, alert.rule.window_seconds):
        return Cause(None, f"{server} went silent: nothing heard for {alert.rule.window_seconds} s")
    return None


def host_down_alert(server: Server, exclude: Alert | None = None) -> Alert | None:
    """The server's firing host-down alert (the first that fired), if any."""
    found = (
        Alert.objects.filter(server=server, state=AlertState.FIRING, rule__kind=RuleKind.ABSENCE, rule__metric_name="")
        .select_related("rule")
        .order_by("fired_at", "pk")
    )
    if exclude is not None and exclude.pk:
        found = found.exclude(pk=exclude.pk)
    return found.first()


def _parent_cause(alert: Alert, server: Server, now: datetime) -> Cause | None:
    if not server.depends_on_id:
        return None
    parent = Server.objects.filter(pk=server.depends_on_id).first()
    if parent is None:
        return None
    down = host_down_alert(parent)
    if down is not None:
        return Cause(down, f"{server} depends on {parent}, which is down")
    # the parent went quiet too (stale or down): it is the likelier cause, even before its own alert fires
    if status_for(parent.last_seen, now) != ServerStatus.UP:
        return Cause(None, f"{server} depends on {parent}, not heard from since {_at(parent.last_seen)}")
    return None


def _sibling_cause(alert: Alert, server: Server) -> Cause | None:
    """Two no-contact rules on one host page once: the first host-down alert to fire speaks for both."""
    down = host_down_alert(server, exclude=alert)
    if down is not None and (down.fired_at, down.pk) < (alert.fired_at or down.fired_at, alert.pk or 0):
        return Cause(down, f"{server} is already down ({down.rule.name})")
    return None


def _silent_for(server: Server, now: datetime, seconds: int) -> bool:
    return server.last_seen is not None and now - server.last_seen > timedelta(seconds=seconds)


def _at(ts: datetime | None) -> str:
    return f"{ts:%Y-%m-%d %H:%M:%S} UTC" if ts else "ever"


def adopt(down: Alert) -> int:
    """A host-down alert that fired takes over what its host's (and its children's) down state suppressed."""
    own = Alert.objects.filter(server_id=down.server_id, state__in=OPEN_STATES, suppressed_by__isnull=True)
    children = Alert.objects.filter(
        server__depends_on_id=down.server_id,
        state__in=OPEN_STATES,
        suppressed_by__isnull=True,
        rule__kind=RuleKind.ABSENCE,
        rule__metric_name="",
    )
    adopted = 0
    for found in (own, children):
        adopted += found.exclude(pk=down.pk).exclude(suppressed_reason="").update(suppressed_by=down)
    return adopted


def suppressed_by(down: Alert) -> list[Alert]:
    """The alerts this host-down alert kept quiet, in the order they started."""
    return list(down.suppressed_alerts.select_related("rule", "server").order_by("started_at", "pk"))


def released(now: datetime) -> list[Alert]:
    """Firing alerts recorded as suppressed whose cause has gone: they page now (called once per round)."""
    released = []
    candidates = Alert.objects.filter(state=AlertState.FIRING).exclude(suppressed_reason="")
    for alert in candidates.select_related("rule", "server"):
        if cause_for(alert, now) is None:
            released.append(alert)
    return released
