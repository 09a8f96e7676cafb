"""An application submits events (seed 003) and people read the verdicts, health and stats."""

import statistics
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from rest_framework.test import APIClient

from monitoring import events, partitions
from monitoring.models import Event, FieldStats

SEED_EVENT = {
    "source": "api_module",
    "event_type": "api_response",
    "data": {"response_time": 250, "status_code": 200, "output": "success"},
    "metadata": {"user_id": "123"},
}


@pytest.fixture
def agent_api(agent_token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {agent_token}")
    return client


@pytest.fixture
def admin_api(alice):
    client = APIClient()
    client.force_authenticate(alice)
    return client


def submit(client, **changes):
    body = {**SEED_EVENT, **changes}
    return client.post("/api/v1/monitoring/events", body, format="json")


@pytest.mark.django_db
def test_an_agent_submits_the_seed_event_and_it_is_stored_normal(agent_api, web01):
    response = submit(agent_api)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["severity_score"], body["decision"]) == ("NORMAL", 0.0, "CONTINUE")
    event = Event.objects.get(id=body["event_id"])
    assert event.source == "api_module"
    assert event.server_id == web01.id
    assert event.metadata == {"user_id": "123"}


@pytest.mark.django_db
def test_a_person_submits_a_slow_response_and_gets_a_warning_with_reasons(api):
    response = submit(api, data={"response_time": 6500, "status_code": 200, "output": "success"})
    body = response.json()
    assert body["status"] == "WARNING"
    assert body["reasons"] == ["Response time 6500ms exceeds the threshold of 5000ms"]
    assert body["suggestions"]
    assert body["decision"] == "RETRY"
    stored = Event.objects.get(id=body["event_id"])
    assert (stored.status, stored.reasons, stored.decision) == ("WARNING", body["reasons"], "RETRY")


@pytest.mark.django_db
def test_an_anomaly_is_judged_against_the_running_history_of_the_source(api):
    history = [48, 52, 50, 49, 51, 50, 47, 53, 50, 50, 49, 51]
    for value in history:
        assert submit(api, data={"items_returned": value}).json()["status"] == "NORMAL"
    stats = FieldStats.objects.get(source="api_module", field="items_returned")
    assert stats.count == 12
    assert stats.mean == pytest.approx(statistics.mean(history))
    assert stats.std == pytest.approx(statistics.stdev(history))
    response = submit(api, data={"items_returned": 80})
    assert response.json()["status"] == "CRITICAL"
    assert response.json()["reasons"][0].startswith("Anomaly: items_returned 80")
    # another source has its own history
    assert submit(api, source="other", data={"items_returned": 80}).json()["status"] == "NORMAL"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"source": ""}, "source"),
        ({"source": 12}, "source"),
        ({"event_type": None}, "event_type"),
        ({"data": "text"}, "data"),
        ({"data": None}, "data"),
        ({"metadata": [1]}, "metadata"),
        ({"timestamp": "soon"}, "timestamp"),
    ],
)
def test_a_bad_event_is_refused_with_the_field_and_stores_nothing(api, changes, field):
    response = submit(api, **changes)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    assert Event.objects.count() == 0
    assert FieldStats.objects.count() == 0


@pytest.mark.django_db
def test_events_without_credentials_are_refused(client):
    response = client.post("/api/v1/monitoring/events", SEED_EVENT, content_type="application/json")
    assert response.status_code in (401, 403)
    assert Event.objects.count() == 0


@pytest.mark.django_db
def test_an_agent_token_cannot_read_event_logs(agent_api):
    assert agent_api.get("/api/v1/monitoring/logs").status_code == 403


@pytest.mark.django_db
def test_people_query_event_logs_by_status_source_and_time(api):
    submit(api)
    submit(api, data={"response_time": 6000})
    submit(api, data={"response_time": 20000, "latency": 9000})
    submit(api, source="billing", data={"cpu_usage": 95})
    response = api.get("/api/v1/monitoring/logs?status=WARNING&status=CRITICAL&source=api_module")
    logs = response.json()["logs"]
    assert [entry["status"] for entry in logs] == ["CRITICAL", "WARNING"]
    assert logs[0]["input_snapshot"]["data"] == {"response_time": 20000, "latency": 9000}
    assert api.get("/api/v1/monitoring/logs?limit=1&offset=1").json()["logs"][0]["status"] == "CRITICAL"
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    body = {"status": ["WARNING"], "start_time": "2020-01-01T00:00:00Z", "end_time": later, "limit": 50}
    queried = api.post("/api/v1/monitoring/logs/query", body, format="json").json()["logs"]
    assert {entry["source"] for entry in queried} == {"api_module", "billing"}
    assert api.post("/api/v1/monitoring/logs/query", {"status": "CRITICAL"}, format="json").json()["count"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=BROKEN", "status"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("offset=-1", "offset"),
        ("start_time=yesterday", "start_time"),
    ],
)
def test_a_bad_event_log_query_is_refused(api, query, field):
    response = api.get(f"/api/v1/monitoring/logs?{query}")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field


@pytest.mark.django_db
def test_health_reports_the_worst_recent_verdict_and_issues(api):
    assert api.get("/api/v1/monitoring/health").json()["current_status"] == "NORMAL"
    submit(api)
    submit(api, data={"response_time": 6500})
    health = api.get("/api/v1/monitoring/health").json()
    assert health["current_status"] == "WARNING"
    assert health["severity_score"] == pytest.approx(0.76)
    assert health["recent_issues"] == ["Response time 6500ms exceeds the threshold of 5000ms"]
    assert health["total_events_processed"] == 2
    assert health["last_update"].endswith("Z")


@pytest.mark.django_db
def test_stats_count_events_by_status_decision_and_source(api):
    submit(api)
    submit(api, data={"response_time": 6500})
    stats = api.get("/api/v1/monitoring/stats").json()
    assert stats["total_events"] == 2
    assert stats["by_status"]["WARNING"]["count"] == 1
    assert stats["by_decision"] == {"CONTINUE": 1, "RETRY": 1}
    assert stats["top_sources"][0]["source"] == "api_module"


@pytest.mark.django_db
def test_re_evaluation_applies_todays_thresholds_to_recent_events(api, settings):
    submit(api, data={"response_time": 4000})
    settings.EVENT_RESPONSE_TIME_MS = 3000
    response = api.post("/api/v1/monitoring/analysis/re-evaluate?lookback_minutes=60")
    assert response.json()["changed"] == 1
    assert Event.objects.get().status == "WARNING"
    assert api.post("/api/v1/monitoring/analysis/re-evaluate?lookback_minutes=0").status_code == 400


@pytest.mark.django_db
def test_an_admin_cleans_up_old_events_dropping_whole_days(admin_api, api):
    now = datetime.now(UTC)
    for age in (timedelta(days=3), timedelta(hours=50), timedelta(hours=1)):
        events.record(events.Submitted("old", "t", {"x": 1}, ts=now - age))
    partitions_before = _event_partitions()
    response = admin_api.post("/api/v1/monitoring/maintenance/cleanup?older_than_hours=48")
    body = response.json()
    assert response.status_code == 200
    three_days_ago = (now - timedelta(days=3)).date()
    assert partitions.partition_name("monitoring_event", three_days_ago) in body["dropped_partitions"]
    assert set(_event_partitions()) < set(partitions_before)
    remaining = list(Event.objects.values_list("ts", flat=True))
    assert all(ts >= now - timedelta(hours=48) for ts in remaining)
    assert len(remaining) == 1


@pytest.mark.django_db
def test_cleanup_is_for_admins_only(api):
    assert api.post("/api/v1/monitoring/maintenance/cleanup?older_than_hours=48").status_code == 403


def _event_partitions():
    with connection.cursor() as cursor:
        return [name for name, _ in partitions.existing(cursor, "monitoring_event")]
