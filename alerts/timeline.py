"""The alerts app's part of a server's timeline (monitoring/timeline.py): fired, acknowledged, suppressed, resolved."""

from __future__ import annotations

from datetime import datetime

from django.urls import reverse

from alerts.choices import AlertState, MessageKind, PageOutcome, RuleKind
from alerts.models import AlertTransition, Page


def items(server, start: datetime, end: datetime, wanted: set[str], limit: int) -> list:
    from monitoring.timeline import Item

    if not wanted & {"alert", "anomaly"}:
        return []
    found = []
    steps = (
        AlertTransition.objects.filter(alert__server=server, at__gte=start, at__lte=end)
        .select_related("alert__rule")
        .order_by("-at")[:limit]
    )
    for step in steps:
        what = _what(step)
        if what:
            found.append(Item(step.at, _kind(step.alert), f"{what}: {_about(step.alert)}", step.note,
                              step.alert.severity, reverse("dashboards:alert", args=[step.alert_id]),
                              {"alert_id": step.alert_id, "state": what}))  # fmt: skip
    quieted = (
        Page.objects.filter(alert__server=server, outcome=PageOutcome.SUPPRESSED, kind=MessageKind.FIRING)
        .filter(at__gte=start, at__lte=end)
        .select_related("alert__rule")
        .order_by("-at")[:limit]
    )
    for page in quieted:
        found.append(Item(page.at, _kind(page.alert), f"suppressed: {_about(page.alert)}", page.reason,
                          page.alert.severity, reverse("dashboards:alert", args=[page.alert_id]),
                          {"alert_id": page.alert_id, "state": "suppressed"}))  # fmt: skip
    return found


def _what(step: AlertTransition) -> str:
    if step.to_state == AlertState.FIRING and step.from_state == AlertState.PENDING:
        return "fired"
    if step.to_state == AlertState.RESOLVED and step.from_state in (AlertState.FIRING, AlertState.PENDING):
        return "resolved"
    if step.from_state == step.to_state and step.note.startswith("acknowledged"):
        return "acknowledged"
    return ""


def _kind(alert) -> str:
    return "anomaly" if alert.rule.kind == RuleKind.ANOMALY else "alert"


def _about(alert) -> str:
    return alert.summary or alert.rule.name
