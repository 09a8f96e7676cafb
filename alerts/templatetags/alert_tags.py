"""Alert figures for other apps' pages: ``{% load alert_tags %}{% alert_summary [server] as alerts %}``."""

from __future__ import annotations

from django import template

from alerts import summary
from servers.models import Server

register = template.Library()


@register.simple_tag
def alert_summary(server: Server | None = None) -> summary.AlertSummary:
    """The fleet's open alerts, or (given a server) that server's newest alerts: see alerts/summary.py."""
    return summary.alert_summary(server.pk if server is not None else None)


@register.filter
def open_alerts_of(alerts: summary.AlertSummary, server: Server) -> int:
    """How many open alerts the server has: ``{{ alerts|open_alerts_of:server }}``."""
    return alerts.open_for(server.pk)
