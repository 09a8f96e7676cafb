"""What the alerts app tells the rest of the console; every signal is sent with ``alert=``.

Sent after the transaction that changed the alert commits, so a receiver reads
the alert as stored. The live console pushes ``alert_triggered`` from them and
incident analysis starts on ``alert_fired``; the alerts app itself sends
notifications from them (alerts/notify.py). The alerts app imports neither.

- ``alert_fired``: an alert went pending -> firing.
- ``alert_resolved``: a firing (or pending) alert resolved.
- ``alert_changed``: any change worth showing (created pending, fired,
  resolved, acknowledged, value updated on a reminder).
"""

from django.dispatch import Signal

alert_fired = Signal()
alert_resolved = Signal()
alert_changed = Signal()
# sent INSIDE the transaction that fired or resolved an alert (kind=, now=): a receiver failing rolls it back.
# alerts.paging receives it and records whether the message goes out (docs/less-noise.md).
message_due = Signal()
