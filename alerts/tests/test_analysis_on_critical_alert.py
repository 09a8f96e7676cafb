"""A critical alert that fires gets an analysis by itself, once per fingerprint per cooldown."""

from __future__ import annotations

import logging
import time

import pytest
from django.core.cache import cache
from django.utils import timezone

from alerts.analysis import triggers
from alerts.choices import AnalysisTrigger
from alerts.models import Alert, AlertRule, Analysis
from alerts.signals import alert_fired
from alerts.tests.incident_data import store_incident
from config.tests.fixtures import wait_until


@pytest.fixture(autouse=True)
def _listening():
    """Another test may have cleared alert_fired's receivers: make sure ours listens."""
    alert_fired.connect(triggers.on_alert_fired, dispatch_uid="alerts.analysis.on_alert_fired")


@pytest.fixture
def no_key(settings):
    settings.GROQ_API_KEY = ""
    settings.GROQ_BASE_URL = ""


def _alert(server, severity: str) -> Alert:
    rule = AlertRule.objects.create(
        name=f"CPU {severity} {time.monotonic_ns()}",
        severity=severity,
        metric_type="cpu",
        metric_name="usage",
        threshold=90,
    )
    fingerprint = rule.fingerprint(server.id, {})
    cache.delete(f"analysis:cooldown:{fingerprint}")
    return Alert.objects.create(rule=rule, server=server, fingerprint=fingerprint, severity=severity)


def _analyses_of(alert: Alert, seconds: float = 10) -> list[Analysis]:
    def once_finished() -> list[Analysis]:
        found = list(Analysis.objects.filter(alert__fingerprint=alert.fingerprint))
        return found if all(a.finished for a in found) else []

    return wait_until(once_finished, seconds, what="the alert's analyses to finish")


def test_a_critical_alert_firing_is_analysed_once_per_cooldown(celery_worker_live, web01, no_key, caplog):
    store_incident(web01, timezone.now())
    alert = _alert(web01, "critical")
    alert.fire(value=97.0)
    [analysis] = _analyses_of(alert)
    assert analysis.trigger == AnalysisTrigger.ALERT_FIRED
    assert analysis.status == "done" and analysis.is_fallback
    assert analysis.evidence["alert"]["id"] == alert.pk
    assert analysis.result["severity"] == "CRITICAL"

    # it resolves and fires again within the cooldown: no second analysis
    alert.resolve(value=10.0)
    again = Alert.objects.create(rule=alert.rule, server=web01, fingerprint=alert.fingerprint, severity="critical")
    with caplog.at_level(logging.DEBUG, logger="alerts.analysis.triggers"):
        again.fire(value=98.0)  # the receiver decides when the firing commits: here, before fire() returns
    assert "not analysed again within its fingerprint's cooldown" in caplog.text
    assert len(_analyses_of(alert)) == 1


def test_a_warning_alert_firing_is_not_analysed(celery_worker_live, web01, no_key, caplog):
    alert = _alert(web01, "warning")
    with caplog.at_level(logging.DEBUG, logger="alerts.analysis.triggers"):
        alert.fire(value=91.0)
    assert "not analysed, its severity is warning" in caplog.text
    assert not Analysis.objects.filter(alert=alert).exists()


def test_without_a_cooldown_every_firing_is_analysed(celery_worker_live, web01, no_key, settings):
    settings.ANALYSIS_COOLDOWN_SECONDS = 0
    alert = _alert(web01, "critical")
    alert.fire(value=97.0)
    alert.resolve(value=10.0)
    again = Alert.objects.create(rule=alert.rule, server=web01, fingerprint=alert.fingerprint, severity="critical")
    again.fire(value=98.0)
    wait_until(lambda: Analysis.objects.filter(alert__fingerprint=alert.fingerprint).count() >= 2, 10)
    assert Analysis.objects.filter(alert__fingerprint=alert.fingerprint).count() == 2


def test_alerting_goes_on_when_the_analysis_cannot_be_queued(
    web01, db, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    from alerts.analysis.tasks import analyse_fired_alert

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to redis: Connection refused")

    monkeypatch.setattr(analyse_fired_alert, "apply_async", broker_down)
    alert = _alert(web01, "critical")
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        alert.fire(value=97.0)
    assert time.monotonic() - started < 1.0
    alert.refresh_from_db()
    assert alert.state == "firing"
    assert "could not start the analysis" in caplog.text


def test_old_analyses_go_and_lost_ones_are_marked_failed(db, settings):
    from datetime import timedelta

    from alerts.analysis.tasks import prune

    now = timezone.now()
    old = Analysis.objects.create(status="done", created_at=now - timedelta(days=settings.ANALYSIS_RETENTION_DAYS + 1))
    lost = Analysis.objects.create(status="pending", created_at=now - timedelta(hours=2))
    fresh = Analysis.objects.create(status="pending")
    assert prune() == {"deleted": 1, "lost": 1}
    assert not Analysis.objects.filter(pk=old.pk).exists()
    lost.refresh_from_db()
    assert lost.status == "failed" and "lost" in lost.error
    fresh.refresh_from_db()
    assert fresh.status == "pending"
