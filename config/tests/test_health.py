"""/healthz (seed 000), /health with each dependency, and GET /."""

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from alerts import health, tasks
from alerts.models import AlertRule
from config import embedded


def test_healthz_answers_like_seed_000(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["service"] == "monitoring-backend"
    assert body["timestamp"].endswith("Z")


@pytest.mark.django_db
def test_health_reports_each_dependency_to_a_signed_in_person(client, bob):
    client.force_login(bob)
    tasks.evaluate_rules()  # a round, as beat runs it
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    checks = response.json()["checks"]
    assert set(checks) == {"database", "redis", "celery_broker", "evaluation"}
    for check in checks.values():
        assert check["status"] == "up"
        assert check["latency_ms"] >= 0


@pytest.mark.django_db
def test_health_gives_a_person_token_the_details(client, bob_token):
    response = client.get("/health", HTTP_AUTHORIZATION=f"Bearer {bob_token}")
    assert "latency_ms" in response.json()["checks"]["database"]


@pytest.mark.django_db
def test_health_gives_anonymous_callers_statuses_only(client, settings):
    settings.CACHE_REDIS_URL = "redis://nobody:hunter2@127.0.0.1:1/0"  # a Redis that is down
    response = client.get("/health")
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == {"status": "up"} and body["checks"]["redis"] == {"status": "down"}
    assert all(set(check) == {"status"} for check in body["checks"].values())
    assert "hunter2" not in response.content.decode() and "127.0.0.1" not in response.content.decode()


@pytest.mark.django_db
def test_an_evaluation_round_older_than_three_intervals_is_degraded(client, settings, bob):
    client.force_login(bob)  # the detail is for signed-in people
    settings.ALERT_EVAL_INTERVAL_SECONDS = 10
    rule = AlertRule.objects.create(name="cpu", metric_type="cpu", metric_name="usage")
    rounds_ago = AlertRule.objects.filter(pk=rule.pk).update  # what the last round stamped on the rules it evaluated
    rounds_ago(last_evaluated_at=timezone.now() - timedelta(seconds=31))
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["evaluation"]["status"] == "stale"
    assert "celery beat" in body["checks"]["evaluation"]["detail"]
    rounds_ago(last_evaluated_at=timezone.now() - timedelta(seconds=15))  # margin for a loaded machine
    assert client.get("/health").json()["status"] == "ok"


@pytest.mark.django_db
def test_a_beat_that_never_ran_is_degraded_after_three_intervals(client, settings):
    settings.ALERT_EVAL_INTERVAL_SECONDS = 10  # and no rule was ever evaluated
    cache.set(health.NO_ROUND_SINCE_KEY, time.time() - 31, None)
    assert client.get("/health").json()["checks"]["evaluation"]["status"] == "stale"
    cache.set(health.NO_ROUND_SINCE_KEY, time.time() - 5, None)
    assert client.get("/health").json()["checks"]["evaluation"]["status"] == "up"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_health_is_503_when_the_database_is_stopped(client, tmp_path):
    # a real PostgreSQL of its own, which the test stops
    pg = embedded.EmbeddedPostgres(tmp_path, fast=True)
    url = pg.ensure_running()
    port = int(url.split(":")[2].split("/")[0])
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=port, NAME="monitoring", USER="postgres", PASSWORD="")
    try:
        assert client.get("/health").status_code == 200
        pg.stop()
        connection.close()
        response = client.get("/health")
        assert response.status_code == 503
        body = response.json()
        assert body["checks"]["database"] == {"status": "down"}  # anonymous: no error text
        assert body["checks"]["redis"]["status"] == "up"
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
        embedded.stop_all(tmp_path)


def test_root_gives_api_clients_a_map(client):
    response = client.get("/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["endpoints"]["ingest"] == "/ingest"


def test_root_sends_browsers_to_the_console(client):
    response = client.get("/", HTTP_ACCEPT="text/html,application/xhtml+xml")
    assert response.status_code == 302


@pytest.mark.django_db
def test_openapi_schema_is_served(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
