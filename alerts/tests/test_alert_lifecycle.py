"""An alert's life on the model: fire, resolve, acknowledge, one open alert per fingerprint."""

import pytest
from django.db import IntegrityError, transaction

from alerts.choices import AlertState
from alerts.models import Alert, AlertRule, Silence
from alerts.signals import alert_changed, alert_fired, alert_resolved


@pytest.fixture
def rule(db):
    return AlertRule.objects.create(name="cpu high", metric_type="cpu", metric_name="usage", threshold=90)


def open_alert(rule, server):
    return Alert.objects.create(rule=rule, server=server, fingerprint=rule.fingerprint(server.id, {}), value=95)


def test_an_alert_fires_then_resolves_with_its_history(rule, web01, django_capture_on_commit_callbacks):
    heard = []
    listeners = {}
    for signal in (alert_fired, alert_resolved, alert_changed):
        listeners[signal] = lambda sender, alert, signal=signal, **kw: heard.append(signal)
        signal.connect(listeners[signal], weak=False)
    alert = open_alert(rule, web01)
    with django_capture_on_commit_callbacks(execute=True):
        alert.fire(95.0)
        alert.resolve(40.0)
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED
    assert alert.trigger_value == 95.0 and alert.value == 40.0
    assert [(t.from_state, t.to_state) for t in alert.transitions.all()] == [
        ("pending", "firing"),
        ("firing", "resolved"),
    ]
    assert heard == [alert_fired, alert_changed, alert_resolved, alert_changed]
    for signal, listener in listeners.items():
        signal.disconnect(listener)


def test_a_second_open_alert_for_the_same_fingerprint_is_refused(rule, web01):
    open_alert(rule, web01)
    with pytest.raises(IntegrityError), transaction.atomic():
        open_alert(rule, web01)


def test_a_resolved_alert_makes_room_for_a_new_one(rule, web01):
    first = open_alert(rule, web01)
    first.resolve()
    assert open_alert(rule, web01).pk != first.pk


def test_bob_acknowledges_an_alert_once(rule, web01, bob):
    alert = open_alert(rule, web01)
    assert alert.acknowledge(bob) is True
    assert alert.acknowledge(bob) is False
    alert.refresh_from_db()
    assert alert.acknowledged_by == bob and alert.acknowledged_at is not None


def test_a_silence_matching_the_server_mutes_but_keeps_the_alert(rule, web01, bob):
    from datetime import timedelta

    from django.utils import timezone

    alert = open_alert(rule, web01)
    alert.labels = {"alertname": rule.name, "server": "web-01", "severity": "warning"}
    Silence.objects.create(matchers={"server": "web-01"}, ends_at=timezone.now() + timedelta(hours=1), created_by=bob)
    assert alert.muted_by().startswith("silence #")
    assert Alert.objects.filter(pk=alert.pk, state=AlertState.PENDING).exists()
