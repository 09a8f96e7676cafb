"""Alerting's models, one module per concept (Django finds them here).

- rules.py: ``AlertRule``, what to watch and when it becomes an alert; label matchers
- alerts.py: ``Alert`` from pending to resolved, and its ``AlertTransition`` steps
- silences.py: ``Silence``, which mutes notifications, never the alert
- channels.py: ``NotificationChannel``, ``Delivery`` (one attempt to send) and in-console ``Notification``
- analysis.py: ``Analysis``, what the LLM (or the fallback) said about an alert's window
- noise.py: ``NotificationPolicy``, the ``Page`` ledger (sent, suppressed, folded; the outbox),
  ``DeliveryClaim`` (one page through one channel, once), one-click ``ActionLink``

An ``AlertRule`` is evaluated by Celery (alerts/evaluation.py), one set-based
query per rule for every server in scope. Silences and maintenance windows
mute the notifications, never the alert.
"""

from alerts.models.alerts import Alert, AlertTransition
from alerts.models.analysis import Analysis
from alerts.models.channels import Delivery, Notification, NotificationChannel
from alerts.models.noise import ActionLink, DeliveryClaim, NotificationPolicy, Page
from alerts.models.rules import AlertRule, matches
from alerts.models.silences import Silence, SilenceQuerySet

__all__ = [
    "ActionLink",
    "DeliveryClaim",
    "NotificationPolicy",
    "Page",
    "Alert",
    "AlertRule",
    "AlertTransition",
    "Analysis",
    "Delivery",
    "Notification",
    "NotificationChannel",
    "Silence",
    "SilenceQuerySet",
    "matches",
]
