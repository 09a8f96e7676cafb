"""What other apps may ask of alerts: the alert figures the fleet and server pages show.

The pages reach it through the ``alert_summary`` template tag
(alerts/templatetags/alert_tags.py), so monitoring/ imports nothing of alerts/.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field

from alerts.choices import OPEN_STATES
from alerts.models import Alert

FLEET_OPEN_ALERTS = 200  # open alerts counted on the fleet page
FLEET_SHOWN = 12  # of which the newest are listed
SERVER_SHOWN = 15  # a server's newest alerts, in any state


@dataclass
class AlertSummary:
    """Open alerts per server id (str), and the newest alerts to list."""

    latest: list[Alert]
    open_by_server: Counter[str] = field(default_factory=Counter)

    def open_for(self, server_id: uuid.UUID | str) -> int:
        return self.open_by_server.get(str(server_id), 0)


def alert_summary(server_id: uuid.UUID | str | None = None) -> AlertSummary:
    """The fleet's open alerts (newest first), or one server's newest alerts in any state; one query."""
    alerts = Alert.objects.select_related("rule", "server", "acknowledged_by").order_by("-started_at")
    if server_id is None:
        open_alerts = list(alerts.filter(state__in=OPEN_STATES)[:FLEET_OPEN_ALERTS])
        counts = Counter(str(a.server_id) for a in open_alerts if a.server_id)
        return AlertSummary(latest=open_alerts[:FLEET_SHOWN], open_by_server=counts)
    latest = list(alerts.filter(server_id=server_id)[:SERVER_SHOWN])
    return AlertSummary(latest=latest, open_by_server=Counter(str(a.server_id) for a in latest if a.is_open))
