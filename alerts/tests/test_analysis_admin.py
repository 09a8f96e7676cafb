"""Admins read analyses with their evidence and start one from the alerts' list."""

from __future__ import annotations

import time

import pytest

from alerts.choices import AnalysisTrigger
from alerts.models import Alert, AlertRule, Analysis
from config.tests.fixtures import wait_until

KEY = "gsk_admin_test_secret_key"


@pytest.fixture
def admin_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def no_key(settings):
    settings.GROQ_API_KEY = ""
    settings.GROQ_BASE_URL = ""


def test_an_analysis_page_shows_the_evidence_and_never_the_key(admin_client, db, settings):
    settings.GROQ_API_KEY = KEY
    analysis = Analysis.objects.create(
        lookback_minutes=30,
        status="done",
        is_fallback=True,
        evidence={"series": [{"server": "web-01", "series": "cpu.usage"}]},
        result={"analysis": "CPU is high", "severity": "WARNING"},
    )
    listing = admin_client.get("/admin/alerts/analysis/")
    assert listing.status_code == 200
    page = admin_client.get(f"/admin/alerts/analysis/{analysis.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "cpu.usage" in text and "CPU is high" in text
    assert KEY not in text and KEY not in listing.content.decode()


def test_analyze_with_the_llm_from_the_alerts_list(admin_client, celery_worker_live, web01, no_key):
    rule = AlertRule.objects.create(name=f"cpu {time.monotonic_ns()}", metric_type="cpu", metric_name="usage")
    alert = Alert.objects.create(rule=rule, server=web01, fingerprint=rule.fingerprint(web01.id, {}))
    response = admin_client.post(
        "/admin/alerts/alert/", {"action": "analyse_alerts", "_selected_action": [alert.pk]}, follow=True
    )
    assert response.status_code == 200
    assert "Analyses queued" in response.content.decode()
    wait_until(lambda: Analysis.objects.filter(alert=alert, status="done").exists(), 10)
    analysis = Analysis.objects.get(alert=alert)
    assert analysis.trigger == AnalysisTrigger.ADMIN and analysis.status == "done"
    assert analysis.requested_by.username == "alice"
