"""People ask for analyses over the API (seed 003, seed 004, the alert page) and read them back."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from alerts.models import Alert, AlertRule, Analysis
from alerts.tests.fake_groq import GOOD_ANSWER, FakeGroq, Reply
from alerts.tests.incident_data import store_incident
from config.tests.fixtures import wait_until

SEED_003_KEYS = {"analysis", "severity", "key_findings", "recommendations", "confidence"}


@pytest.fixture
def groq_server(settings):
    with FakeGroq() as server:
        settings.ENABLE_LLM_MONITORING = True
        settings.GROQ_API_KEY = "gsk_test_key"
        settings.GROQ_BASE_URL = server.url
        settings.GROQ_TIMEOUT_SECONDS = 5
        settings.GROQ_MAX_RETRIES = 0
        yield server


@pytest.fixture(autouse=True)
def _fresh_throttle(bob):
    """Test databases reuse ids: forget what an earlier run's bob asked for."""
    from django.core.cache import cache

    cache.delete(f"throttle_analysis_{bob.pk}")


@pytest.fixture
def no_key(settings):
    settings.GROQ_API_KEY = ""
    settings.GROQ_BASE_URL = ""


@pytest.fixture
def incident(web01):
    store_incident(web01, timezone.now())
    return web01


def _finished(analysis_id: int, api, seconds: float = 15) -> dict:
    def body_once_finished() -> dict | None:
        body = api.get(f"/api/v1/analyses/{analysis_id}").json()
        return body if body["status"] in ("done", "failed") else None

    return wait_until(body_once_finished, seconds, what=f"analysis {analysis_id} to finish")


def test_seed003_analysis_answers_the_models_analysis(celery_worker_live, api, incident, groq_server):
    response = api.post(
        "/api/v1/monitoring/analysis/llm",
        {"lookback_minutes": 30, "focus_areas": ["response_times", "error_rates"]},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert SEED_003_KEYS <= body.keys()
    assert {k: body[k] for k in SEED_003_KEYS} == GOOD_ANSWER
    assert body["is_fallback"] is False and body["status"] == "done"
    analysis = Analysis.objects.get(pk=body["id"])
    assert analysis.lookback_minutes == 30
    assert analysis.focus_areas == ["response_times", "error_rates"]
    assert "Focus areas: response_times, error_rates" in groq_server.requests[0]["json"]["messages"][1]["content"]


def test_without_a_key_the_answer_is_rule_based_and_says_so(celery_worker_live, api, incident, no_key):
    response = api.post("/api/v1/monitoring/analysis/llm", {"lookback_minutes": 30}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["is_fallback"] is True and body["model"] == ""
    assert body["severity"] == "CRITICAL"
    assert any("cpu.usage on web-01" in finding for finding in body["key_findings"])
    assert 0 <= body["confidence"] <= 1


def test_with_llm_disabled_the_answer_is_rule_based(celery_worker_live, api, incident, groq_server, settings):
    settings.ENABLE_LLM_MONITORING = False
    body = api.post("/api/v1/monitoring/analysis/llm", {}, format="json").json()
    assert body["is_fallback"] is True
    assert groq_server.requests == []
    detail = api.get(body["url"]).json()
    assert "ENABLE_LLM_MONITORING" in detail["fallback_reason"]


def test_a_slow_analysis_answers_202_with_where_to_find_it(celery_worker_live, api, incident, groq_server):
    groq_server.queue(Reply(delay=1.0))
    response = api.post("/api/v1/monitoring/analysis/llm?wait=0", {"lookback_minutes": 15}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert response["Location"] == body["url"] == f"/api/v1/analyses/{body['id']}"
    assert body["status"] in ("pending", "running")
    detail = _finished(body["id"], api)
    assert detail["status"] == "done"
    assert detail["result"] == GOOD_ANSWER
    assert detail["evidence"]["series"][0]["server"] == "web-01"
    assert detail["tokens_used"] == 1020 and detail["latency_ms"] >= 900


@pytest.mark.parametrize(
    "body, field",
    [
        ({"lookback_minutes": 0}, "lookback_minutes"),
        ({"lookback_minutes": "soon"}, "lookback_minutes"),
        ({"lookback_minutes": 10081}, "lookback_minutes"),
        ({"focus_areas": "cpu"}, "focus_areas"),
        ({"focus_areas": [""]}, "focus_areas"),
        ({"focus_areas": ["x" * 65]}, "focus_areas"),
        ({"focus_areas": [str(i) for i in range(11)]}, "focus_areas"),
    ],
)
def test_a_bad_request_is_refused_naming_the_field(api, db, body, field):
    response = api.post("/api/v1/monitoring/analysis/llm", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Analysis.objects.exists()


def test_a_bad_wait_is_refused(api, db):
    response = api.post("/api/v1/monitoring/analysis/llm?wait=-1", {}, format="json")
    assert response.status_code == 400 and "wait" in response.json()


def test_strangers_and_agents_may_not_ask(client, agent, db):
    assert client.post("/api/v1/monitoring/analysis/llm", {}, content_type="application/json").status_code in (401, 403)
    assert agent.post("/api/v1/monitoring/analysis/llm", {}, content_type="application/json").status_code == 403
    assert agent.get("/api/analytics/insights").status_code == 403


def test_seed004_insights_are_served_and_reused_for_a_minute(celery_worker_live, api, incident, groq_server):
    first = api.get("/api/analytics/insights?lookback_minutes=30")
    assert first.status_code == 200, first.content
    body = first.json()
    assert body["summary"] == GOOD_ANSWER["analysis"]
    assert body["insights"] == [{"type": "finding", "message": text} for text in GOOD_ANSWER["key_findings"]]
    assert body["recommendations"] == GOOD_ANSWER["recommendations"]
    again = api.get("/api/analytics/insights?lookback_minutes=30").json()
    assert again["analysis_id"] == body["analysis_id"]
    assert len(groq_server.requests) == 1


def test_seed004_insights_for_one_service_read_only_its_logs(celery_worker_live, api, incident, no_key):
    body = api.get("/api/analytics/insights?lookback_minutes=30&service=payments").json()
    assert body["service"] == "payments" and body["is_fallback"] is True
    evidence = api.get(f"/api/v1/analyses/{body['analysis_id']}").json()["evidence"]
    assert evidence["scope"]["services"] == ["payments"]
    assert evidence["log_counts"] == {} and evidence["log_templates"] == []
    web_app = api.get("/api/analytics/insights?lookback_minutes=30&service=web-app").json()
    assert web_app["analysis_id"] != body["analysis_id"]
    evidence = api.get(f"/api/v1/analyses/{web_app['analysis_id']}").json()["evidence"]
    # (transactional tests leave earlier tests' log lines behind: partitioned tables are not flushed)
    assert set(evidence["log_counts"]) == {"ERROR", "INFO"} and evidence["log_counts"]["ERROR"] >= 42


def test_insights_refuse_a_bad_lookback(api, db):
    response = api.get("/api/analytics/insights?lookback_minutes=-5")
    assert response.status_code == 400 and "lookback_minutes" in response.json()


def _critical_alert(server) -> Alert:
    rule = AlertRule.objects.create(
        name=f"CPU high {time.monotonic_ns()}",
        severity="critical",
        metric_type="cpu",
        metric_name="usage",
        threshold=90,
        window_seconds=60,
    )
    return Alert.objects.create(
        rule=rule, server=server, fingerprint=rule.fingerprint(server.id, {}), severity="critical", value=97
    )


def test_the_alert_page_button_analyses_the_alerts_window(celery_worker_live, api, incident, groq_server):
    alert = _critical_alert(incident)
    response = api.post(f"/api/v1/alerts/{alert.pk}/analyze")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["alert_id"] == alert.pk and body["trigger"] == "alert_page"
    evidence = body["evidence"]
    assert evidence["rule"]["name"] == alert.rule.name
    assert evidence["rule"]["condition"] == "> 90"
    assert evidence["alert"]["server"] == "web-01"
    assert evidence["series"][0] == {**evidence["series"][0], "series": "cpu.usage", "affected": True}
    listed = api.get(f"/api/v1/analyses?alert={alert.pk}").json()["results"]
    assert [a["id"] for a in listed] == [body["id"]] and "evidence" not in listed[0]


def test_analysing_an_unknown_alert_is_404(api, db):
    assert api.post("/api/v1/alerts/999999/analyze").status_code == 404
    assert api.get("/api/v1/analyses/999999").status_code == 404
    assert api.get("/api/v1/analyses?alert=abc").status_code == 400


def test_a_person_asking_too_often_is_told_to_wait(api, db, settings):
    settings.ANALYSIS_REQUESTS_PER_MINUTE = 2
    codes = [
        api.post(
            "/api/v1/monitoring/analysis/llm?lookback_minutes=abc", {"lookback_minutes": 0}, format="json"
        ).status_code
        for _ in range(3)
    ]
    assert codes == [400, 400, 429]
    response = api.post("/api/v1/alerts/1/analyze")
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
