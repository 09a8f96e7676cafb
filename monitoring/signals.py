"""Receivers: alert changes become alert_triggered frames on the live streams."""

from __future__ import annotations

from monitoring import live


def connect_alert_signals() -> bool:
    """Connect to the alerts app's signals when it provides them; answers whether it did."""
    try:
        from alerts import signals
    except ImportError:
        return False
    # alert_changed covers every transition; fired/resolved only when it is missing (one frame per change)
    names = ("alert_changed",) if hasattr(signals, "alert_changed") else ("alert_fired", "alert_resolved")
    for name in names:
        getattr(signals, name).connect(_receiver(name), dispatch_uid=f"monitoring.live.{name}", weak=False)
    return True


def _receiver(signal_name: str):
    def receive(sender, alert=None, **kwargs):
        if alert is not None:
            event = getattr(alert, "state", None) if signal_name == "alert_changed" else None
            live.publish_alert(alert, event or signal_name.removeprefix("alert_"))

    return receive
