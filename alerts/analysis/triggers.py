"""Automatic analysis: a critical alert that fires gets one, at most once per fingerprint per cooldown.

Alerting never waits on it: the receiver only claims the cooldown and queues a
task; any failure here is logged and swallowed.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from alerts.signals import alert_fired

log = logging.getLogger(__name__)


def claim_cooldown(fingerprint: str) -> bool:
    """True for the first caller per fingerprint within ANALYSIS_COOLDOWN_SECONDS."""
    seconds = settings.ANALYSIS_COOLDOWN_SECONDS
    if seconds <= 0:
        return True
    try:
        return cache.add(f"analysis:cooldown:{fingerprint}", 1, timeout=seconds)
    except Exception:  # Redis down: the stored analyses tell instead
        from alerts.choices import AnalysisTrigger
        from alerts.models import Analysis

        since = timezone.now() - timedelta(seconds=seconds)
        return not Analysis.objects.filter(
            alert__fingerprint=fingerprint, trigger=AnalysisTrigger.ALERT_FIRED, created_at__gte=since
        ).exists()


def on_alert_fired(sender, alert, **kwargs) -> None:
    try:
        if alert.severity != "critical":
            log.debug("alert %s fired: not analysed, its severity is %s", alert.pk, alert.severity)
            return
        if not claim_cooldown(alert.fingerprint):
            log.debug("alert %s fired: not analysed again within its fingerprint's cooldown", alert.pk)
            return
        from alerts.analysis.tasks import analyse_fired_alert

        analyse_fired_alert.apply_async((alert.pk,), retry=False)
    except Exception:
        log.exception("could not start the analysis of alert %s", getattr(alert, "pk", "?"))


def connect() -> None:
    """Start analyses of critical alerts as they fire (called from ``AlertsConfig.ready()``)."""
    alert_fired.connect(on_alert_fired, dispatch_uid="alerts.analysis.on_alert_fired")
